// How meshctl writes the figures of GET /v1/mesh/stats, the same in
// `meshctl stat` and the dashboard, so the two never disagree about one
// number. Pure; golden cases in test/unit/stats/format.test.ts.
//
// Every figure has a bounded width (RPS and counts 6 characters at most,
// success and latency 7) because the dashboard lays them out in fixed
// columns. A missing figure (null, undefined, NaN, ±Infinity) is "-", never a
// made-up 0.
//
// Rounding, and where it must not round:
// - Success rate: two decimals, like `linkerd viz stat`, to the nearest.
//   "100.00%" and "0.00%" are claims ("nothing failed", "nothing succeeded"),
//   so only exactly 1 and exactly 0 print them: anything in between is clamped
//   inward to "99.99%" or "0.01%". The clamp is off by less than one printed
//   step (0.01 point), which is the precision the column already promises.
// - RPS: 0 means idle. A rate above 0 that would round to "0.00" (a request
//   or two in the 10 m window) prints "<0.01": clamping it up to "0.01" would
//   overstate it many times over, and a rate is read as a magnitude.
// - Latency is not a rate: "0.00ms" is honest for a few microseconds, and
//   nothing reads it as "no traffic" (no traffic is "-").
// - Counts are exact while they fit the columns (up to 99999), then "123k".
// Each magnitude step is chosen after rounding, so 9.996 is "10.0", not
// "10.00", and 999.6 is "1.0k", not "1000".

/** One magnitude step: values that still print below `below` after rounding print as value / divisor with `digits` decimals. */
interface Step {
  below: number;
  divisor: number;
  digits: number;
  suffix: string;
}

function scaled(value: number, steps: readonly Step[]): string {
  for (const step of steps) {
    const text = (value / step.divisor).toFixed(step.digits);
    if (Number(text) * step.divisor < step.below) return text + step.suffix;
  }
  const last = steps[steps.length - 1]!;
  return (value / last.divisor).toFixed(last.digits) + last.suffix;
}

const missing = (value: number | null | undefined): value is null | undefined => value === null || value === undefined || !Number.isFinite(value);

/** Past the exact range, rates and counts shorten the same way: "123k", "1.2M", "12M". */
const THOUSANDS_UP: readonly Step[] = [
  { below: 1_000_000, divisor: 1000, digits: 0, suffix: 'k' },
  { below: 10_000_000, divisor: 1_000_000, digits: 1, suffix: 'M' },
  { below: Infinity, divisor: 1_000_000, digits: 0, suffix: 'M' },
];

const RPS_STEPS: readonly Step[] = [
  { below: 10, divisor: 1, digits: 2, suffix: '' },
  { below: 100, divisor: 1, digits: 1, suffix: '' },
  { below: 1000, divisor: 1, digits: 0, suffix: '' },
  { below: 10_000, divisor: 1000, digits: 1, suffix: 'k' },
  ...THOUSANDS_UP,
];

/** Requests per second: "-", "0", "<0.01", "0.42", "12.3", "123", "1.2k", "12k", "1.2M". */
export function formatRps(rps: number | null | undefined): string {
  if (missing(rps)) return '-';
  if (rps <= 0) return '0';
  const text = scaled(rps, RPS_STEPS);
  return text === '0.00' ? '<0.01' : text;
}

/** A success rate (0..1): "-" without requests, else "99.50%"; "100.00%" and "0.00%" only when exact. */
export function formatSuccess(rate: number | null | undefined): string {
  if (missing(rate)) return '-';
  if (rate >= 1) return '100.00%';
  if (rate <= 0) return '0.00%';
  const text = (rate * 100).toFixed(2);
  if (text === '100.00') return '99.99%';
  if (text === '0.00') return '0.01%';
  return `${text}%`;
}

const MS_STEPS: readonly Step[] = [
  { below: 1, divisor: 1, digits: 2, suffix: 'ms' },
  { below: 100, divisor: 1, digits: 1, suffix: 'ms' },
  { below: 10_000, divisor: 1, digits: 0, suffix: 'ms' },
  { below: 100_000, divisor: 1000, digits: 1, suffix: 's' },
  { below: Infinity, divisor: 1000, digits: 0, suffix: 's' },
];

/** A latency in milliseconds: "-", "0.42ms", "7.9ms", "120ms", "15.0s", "150s". */
export function formatMs(ms: number | null | undefined): string {
  if (missing(ms)) return '-';
  return scaled(Math.max(0, ms), MS_STEPS);
}

const COUNT_STEPS: readonly Step[] = [{ below: 100_000, divisor: 1, digits: 0, suffix: '' }, ...THOUSANDS_UP];

/** A count (requests, connections): "-", "0", "12345", "123k", "1.2M". */
export function formatCount(count: number | null | undefined): string {
  if (missing(count)) return '-';
  return scaled(Math.max(0, count), COUNT_STEPS);
}
