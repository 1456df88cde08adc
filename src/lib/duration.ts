// Go's duration syntax ("1h2m3.5s", "300ms", "10us"), which Consul clients send
// for ?wait= and in check definitions. A bare number without a unit is refused,
// as Go's time.ParseDuration refuses it ("0" alone is allowed).

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration into milliseconds, or returns undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  let input = text.trim();
  if (input === '') return undefined;
  let sign = 1;
  if (input[0] === '-' || input[0] === '+') {
    sign = input[0] === '-' ? -1 : 1;
    input = input.slice(1);
  }
  if (input === '0') return 0;
  if (input === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < input.length) {
    const start = PART.lastIndex;
    const match = PART.exec(input);
    if (!match || match.index !== start) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return sign * total;
}

/** Formats milliseconds the way Go prints a time.Duration ("1m30s", "250ms", "0s"). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const negative = ms < 0;
  let rest = Math.abs(ms);
  let out = '';
  if (rest < 1000) {
    out = `${trimFloat(rest)}ms`;
  } else {
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    const seconds = rest / 1000;
    if (hours > 0) out += `${hours}h`;
    if (hours > 0 || minutes > 0) out += `${minutes}m`;
    out += `${trimFloat(seconds)}s`;
  }
  return negative ? `-${out}` : out;
}

function trimFloat(value: number): string {
  return String(Math.round(value * 1e6) / 1e6);
}
