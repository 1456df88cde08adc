// Clock skew between this host and the server, from the server's Date
// header. The header has one-second resolution and the answer takes a round
// trip, so the server's clock is known only within an interval; a check
// warns or fails only when the whole interval is past the threshold, so a
// well-synced host is never flagged by rounding. Certificates (24 h leaves,
// notBefore one minute back) are checked against these clocks.

import { failed, passed, warned, type Verdict } from './result.ts';
import { humanDuration } from './format.ts';

export const SKEW_WARN_MS = 1_000;
export const SKEW_FAIL_MS = 30_000;
/** The Date header's resolution. */
const DATE_RESOLUTION_MS = 1_000;

export interface SkewSample {
  /** This host's clock when the request went out and when the answer came. */
  readonly sentAt: number;
  readonly receivedAt: number;
  /** The server's Date header, if it sent one. */
  readonly serverDate: string | undefined;
}

/** The interval the server's offset (server minus host, ms) lies in. */
export function skewInterval(sample: SkewSample): { low: number; high: number } | undefined {
  const date = sample.serverDate === undefined ? Number.NaN : Date.parse(sample.serverDate);
  if (Number.isNaN(date)) return undefined;
  // The server read its clock somewhere in [date, date + 1 s), while ours was in [sentAt, receivedAt].
  return { low: date - sample.receivedAt, high: date + DATE_RESOLUTION_MS - sample.sentAt };
}

const HINT = "sync this host's clock (timedatectl set-ntp true, or chronyc makestep) and the server's: certificates are checked against both";

export function evaluateSkew(sample: SkewSample): Verdict {
  const interval = skewInterval(sample);
  if (!interval) return warned(`the server sent no usable Date header (${JSON.stringify(sample.serverDate ?? null)})`, 'the clocks could not be compared; check them with timedatectl on both hosts');
  const { low, high } = interval;
  // The smallest skew consistent with what was seen: 0 when the interval holds 0.
  const least = low > 0 ? low : high < 0 ? -high : 0;
  const estimate = (low + high) / 2;
  const margin = (high - low) / 2;
  const detail = least === 0
    ? `within ${humanDuration(Math.max(Math.abs(low), Math.abs(high)))} of the server`
    : `the server's clock is ${humanDuration(Math.abs(estimate))} ${estimate > 0 ? 'ahead of' : 'behind'} this host's (±${humanDuration(margin)})`;
  if (least > SKEW_FAIL_MS) return failed(detail, HINT);
  if (least > SKEW_WARN_MS) return warned(detail, HINT);
  return passed(detail);
}
