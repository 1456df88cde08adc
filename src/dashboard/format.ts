// How the dashboard fits text into cells: pure, so the 80-column rules are
// table-tested (test/unit/dashboard/format.test.ts). The stats' figures are
// written by src/lib/stats/format.ts, as `meshctl stat` writes them, each
// with a bounded width, so a column never pushes the next one.

const SPARK = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/** "05:30:01": the time of day, in UTC as the API gives it. */
export function formatClock(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 19) : '--:--:--';
}

/** How good a success rate is, for colour: below 95% is bad, below 99% a warning. */
export type Tone = 'ok' | 'warn' | 'bad' | 'idle';
export function successTone(rate: number | null): Tone {
  if (rate === null) return 'idle';
  return rate < 0.95 ? 'bad' : rate < 0.99 ? 'warn' : 'ok';
}

/** Cuts text to width, marking the cut with "…"; never returns more than width characters. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length <= width) return text;
  return width === 1 ? '…' : `${chars.slice(0, width - 1).join('')}…`;
}

/** Exactly width characters: cut with "…" or padded, on the right (align left) or the left (align right). */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const cut = truncate(text, width);
  const pad = ' '.repeat(Math.max(0, width - [...cut].length));
  return align === 'left' ? cut + pad : pad + cut;
}

/**
 * The last `width` values as block characters, scaled from `floor` (0 by
 * default; lower values still show, from the lowest) to the highest; null
 * (no data: no requests, or the server unreachable) is a space, so gaps
 * show as gaps.
 */
export function sparkline(values: readonly (number | null)[], width: number, floor = 0): string {
  if (width <= 0) return '';
  const shown = values.slice(-width);
  const numbers = shown.filter((v): v is number => v !== null && Number.isFinite(v));
  const max = numbers.length ? Math.max(...numbers) : 0;
  const min = numbers.length ? Math.min(floor, ...numbers) : 0;
  const span = max - min;
  const line = shown.map((v) => {
    if (v === null || !Number.isFinite(v)) return ' ';
    if (span <= 0) return max > 0 ? SPARK[3] : SPARK[0];
    return SPARK[Math.min(SPARK.length - 1, Math.max(0, Math.round(((v - min) / span) * (SPARK.length - 1))))];
  });
  return ' '.repeat(width - shown.length) + line.join('');
}

/** One line of a pane, as the view model hands it to the layout: plain text that fits, and how to show it. */
export interface Line {
  text: string;
  tone?: Tone;
  /** The selected row (shown inverse, and marked ">" for terminals without attributes). */
  selected?: boolean;
  /** A pane's title or a table's header row. */
  heading?: boolean;
}

/** Words into lines of at most width characters, at most maxLines of them (the last one cut with "…"). */
export function wrap(text: string, width: number, maxLines: number): string[] {
  if (width <= 0 || maxLines <= 0) return [];
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = current ? `${current} ${word}` : word;
    if ([...next].length <= width || !current) current = next;
    else {
      lines.push(current);
      current = word;
    }
  }
  if (current) lines.push(current);
  if (lines.length <= maxLines) return lines.map((l) => truncate(l, width));
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = truncate(`${kept[maxLines - 1]} ${lines.slice(maxLines).join(' ')}`, width);
  return kept.map((l) => truncate(l, width));
}
