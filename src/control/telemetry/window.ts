// The server's rolling telemetry, in two tiers of buckets, each holding the
// series the agents reported in its span:
//   - 1-second buckets for the last minute: the 10 s and 1 m windows are
//     exactly their last N whole seconds;
//   - 10-second buckets for the last 10 minutes: the 10 m window.
// A report is added to both tiers. A window is read by merging its buckets'
// counts and histograms; the result is kept until the second ends, so any
// number of dashboards cost one merge per window per second. That is exact:
// a window leaves out the current second, and reports land in it, except a
// report sent late (ageMs, after an outage), which lands in the second it was
// taken in and clears the reads kept for this second.
//
// The 10 m edge: it is read as the whole 10-second buckets before the current
// one plus the whole seconds of the current one (from the fine tier), so it
// spans between 591 and 600 whole seconds, never more than 10 minutes back;
// coveredSeconds says which, and rates divide by it. A window of a server up
// for less than its span covers the time since it started, or since the
// oldest second a late report brought, whichever is earlier: after a restart
// the agents' backlog covers the outage, and dividing it by the seconds since
// the restart alone would read a spike.
//
// Memory: a series costs one histogram per bucket it is reported in, so the
// series are capped (MAX_SERIES in all, MAX_SERIES_PER_NODE per reporting
// node: see series-quota.ts). A series beyond either has its counts dropped
// and counted (droppedRequests in the answer); a series unseen for the whole
// retention frees its place. Series a node reported for traffic its proxies
// cannot have seen (node-scope.ts) are counted too (refusedSeries, and
// refusedErrors for their error entries), in the second they arrived. With 61 + 61 buckets, the bound is
// 122 × MAX_SERIES histograms; a histogram wider than 64 buckets is stored
// dense (1.5 KB: src/lib/latency-histogram.ts).

import { addSeries, emptySeries, type SeriesTotals } from '../../lib/telemetry-series.ts';
import { seriesKey, type ReportedSeries } from '../../config/telemetry-report.ts';
import { SeriesQuota } from './series-quota.ts';

export const RETENTION_SECONDS = 600;
/** The fine tier: 1-second buckets this far back. */
export const FINE_SECONDS = 60;
/** The coarse tier's bucket, over the whole retention. */
export const COARSE_STEP_SECONDS = 10;
export const MAX_SERIES = 5000;
export const MAX_SERIES_PER_NODE = 500;

export type MergedSeries = SeriesTotals;

export interface WindowRead {
  /** Shared by every reader in the same second: read, never change. */
  readonly series: readonly MergedSeries[];
  /** The seconds the window really covers: less than asked while the server has been up for less, or at the 10 m window's edge. */
  readonly coveredSeconds: number;
  readonly droppedRequests: number;
  readonly refusedSeries: number;
  readonly refusedErrors: number;
}

export interface WindowLimits {
  maxSeries?: number;
  maxSeriesPerNode?: number;
}

interface Bucket {
  /** The bucket's span: second / step. */
  period: number;
  series: Map<string, MergedSeries>;
  droppedRequests: number;
  refusedSeries: number;
  refusedErrors: number;
}

/** `slots` buckets of `step` seconds; a slot holding an older period is reused. */
class Ring {
  private readonly slots: Array<Bucket | undefined>;
  readonly step: number;

  constructor(step: number, slots: number) {
    this.step = step;
    this.slots = new Array(slots);
  }

  /** The bucket of `period`, started empty if its slot held an older one (which leaves every window now). */
  at(period: number): Bucket {
    const slot = mod(period, this.slots.length);
    let bucket = this.slots[slot];
    if (!bucket || bucket.period !== period) {
      bucket = { period, series: new Map(), droppedRequests: 0, refusedSeries: 0, refusedErrors: 0 };
      this.slots[slot] = bucket;
    }
    return bucket;
  }

  get(period: number): Bucket | undefined {
    const bucket = this.slots[mod(period, this.slots.length)];
    return bucket?.period === period ? bucket : undefined;
  }
}

export class TelemetryWindow {
  /** The current second and the FINE_SECONDS before it. */
  private readonly fine = new Ring(1, FINE_SECONDS + 1);
  /** The current 10-second bucket and the RETENTION_SECONDS before it. */
  private readonly coarse = new Ring(COARSE_STEP_SECONDS, RETENTION_SECONDS / COARSE_STEP_SECONDS + 1);
  private readonly quota: SeriesQuota;
  /** The first second the window has counts for: the server's start, or a late report's older second. */
  private coversFrom: number;
  /** Window length → its read during `second`. */
  private readonly cache = new Map<number, { second: number; read: WindowRead }>();

  constructor(startedAtMs: number, limits: WindowLimits = {}) {
    this.coversFrom = Math.floor(startedAtMs / 1000);
    this.quota = new SeriesQuota({ total: limits.maxSeries ?? MAX_SERIES, perNode: limits.maxSeriesPerNode ?? MAX_SERIES_PER_NODE, retentionSeconds: RETENTION_SECONDS });
  }

  /**
   * Adds one node's report to the buckets of the second its counts were
   * taken in: `ageMs` before it arrived (a report sent late, after an outage).
   * Counts from before the 1-second buckets go to the 10-second ones only;
   * counts older than the window keeps are counted as dropped, now.
   */
  ingest(series: readonly ReportedSeries[], nowMs: number, node: string, ageMs = 0): void {
    const [nowFine, nowCoarse] = this.bucketsAt(nowMs);
    const current = nowFine.period;
    const second = Math.floor((nowMs - ageMs) / 1000);
    const period = Math.floor(second / COARSE_STEP_SECONDS);
    const fine = second >= current - FINE_SECONDS ? this.fine.at(second) : undefined;
    const coarse = period >= nowCoarse.period - RETENTION_SECONDS / COARSE_STEP_SECONDS ? this.coarse.at(period) : undefined;
    // A late report changes seconds a window may already have been read for.
    if (second < current) this.cache.clear();
    const targets = [fine, coarse].filter((b) => b !== undefined);
    if (targets.length > 0 && second < this.coversFrom) this.coversFrom = second;
    for (const s of series) {
      const key = seriesKey(s);
      if (targets.length === 0 || !this.quota.admit(node, key, current)) {
        nowFine.droppedRequests += s.requests;
        nowCoarse.droppedRequests += s.requests;
        continue;
      }
      for (const bucket of targets) addTo(bucket, key, s);
    }
  }

  /** Counts entries of a report that were not ingested because the node may not speak for them. */
  refuse(refused: { series: number; errors: number }, nowMs: number): void {
    if (refused.series === 0 && refused.errors === 0) return;
    for (const bucket of this.bucketsAt(nowMs)) {
      bucket.refusedSeries += refused.series;
      bucket.refusedErrors += refused.errors;
    }
  }

  /** The fine and the coarse bucket of the second `nowMs` falls in. */
  private bucketsAt(nowMs: number): [Bucket, Bucket] {
    const second = Math.floor(nowMs / 1000);
    // Only a clock stepped back lands a report in a second some window has already been read for.
    for (const [seconds, cached] of this.cache) if (second < cached.second) this.cache.delete(seconds);
    return [this.fine.at(second), this.coarse.at(Math.floor(second / COARSE_STEP_SECONDS))];
  }

  /**
   * The last `seconds` whole seconds, merged (at 10-second granularity past a minute: see the top).
   * The current second is left out: reports are still arriving in it, and counting part of a
   * second as a whole one would read every rate low.
   */
  read(seconds: number, nowMs: number): WindowRead {
    const current = Math.floor(nowMs / 1000);
    const cached = this.cache.get(seconds);
    if (cached?.second === current) return cached.read;
    const buckets: Bucket[] = [];
    const pick = (ring: Ring, from: number, to: number) => {
      for (let period = from; period <= to; period++) {
        const bucket = ring.get(period);
        if (bucket) buckets.push(bucket);
      }
    };
    let span: number;
    if (seconds <= FINE_SECONDS) {
      span = seconds;
      pick(this.fine, current - seconds, current - 1);
    } else {
      // The whole seconds of the current 10-second bucket, then as many whole 10-second buckets before it as fit.
      const period = Math.floor(current / COARSE_STEP_SECONDS);
      const recent = current - period * COARSE_STEP_SECONDS;
      const whole = Math.floor((Math.min(seconds, RETENTION_SECONDS) - recent) / COARSE_STEP_SECONDS);
      span = whole * COARSE_STEP_SECONDS + recent;
      pick(this.fine, current - recent, current - 1);
      pick(this.coarse, period - whole, period - 1);
    }
    const read = merge(buckets, span, current - this.coversFrom);
    this.cache.set(seconds, { second: current, read });
    return read;
  }
}

function addTo(bucket: Bucket, key: string, s: ReportedSeries): void {
  let into = bucket.series.get(key);
  if (!into) {
    into = emptySeries(s.direction, s.source, s.destination);
    bucket.series.set(key, into);
  }
  addSeries(into, s);
}

function merge(buckets: readonly Bucket[], span: number, upSeconds: number): WindowRead {
  const merged = new Map<string, MergedSeries>();
  let droppedRequests = 0;
  let refusedSeries = 0;
  let refusedErrors = 0;
  for (const bucket of buckets) {
    droppedRequests += bucket.droppedRequests;
    refusedSeries += bucket.refusedSeries;
    refusedErrors += bucket.refusedErrors;
    for (const [key, s] of bucket.series) {
      let into = merged.get(key);
      if (!into) {
        into = emptySeries(s.direction, s.source, s.destination);
        merged.set(key, into);
      }
      addSeries(into, s);
    }
  }
  // A server up for less than the window covers only the whole seconds it has been up.
  return { series: [...merged.values()], coveredSeconds: Math.max(1, Math.min(span, upSeconds)), droppedRequests, refusedSeries, refusedErrors };
}

const mod = (a: number, n: number) => ((a % n) + n) % n;
