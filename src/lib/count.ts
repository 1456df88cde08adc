// A count given as text (`?limit=N`, `--max N`, `--access-log-keep N`,
// `--position N`), read in one place so the API and the CLI accept the same
// texts: decimal digits only (no sign, exponent, fraction or spaces), within
// the caller's range. Each caller refuses the rest with its own error, naming
// the parameter or flag and the range it takes. Pure.

export interface CountRange {
  readonly min: number;
  /** Default: the largest safe integer. */
  readonly max?: number;
}

/** The count the text names, or undefined when it is not a whole number within the range. */
export function parseCount(text: string, { min, max = Number.MAX_SAFE_INTEGER }: CountRange): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}
