// The server's rolling telemetry: one bucket per second for the last 10
// minutes (a ring of 600), each holding the series the agents reported in
// that second. A window (10 s, 1 m, 10 m) is read by merging its buckets'
// counts and histograms on query; nothing is precomputed, so a window is
// always exactly the reports that arrived within it.
//
// Memory: at most MAX_SERIES distinct (direction, source, destination)
// series are known at a time. A report naming a new series beyond that has
// that series' counts dropped and counted (droppedRequests in the answer);
// a series unseen for the whole retention frees its place. Series a node
// reported for traffic its proxies cannot have seen (node-scope.ts) are
// counted too (refusedSeries, and refusedErrors for their error entries), in
// the second they arrived.

import { addSeries, emptySeries, type SeriesTotals } from '../../lib/telemetry-series.ts';
import { seriesKey, type ReportedSeries } from '../../config/telemetry-report.ts';

export const RETENTION_SECONDS = 600;
export const MAX_SERIES = 5000;

export type MergedSeries = SeriesTotals;

interface Bucket {
  second: number;
  series: Map<string, MergedSeries>;
  droppedRequests: number;
  refusedSeries: number;
  refusedErrors: number;
}

export interface WindowRead {
  series: MergedSeries[];
  /** The seconds the window really covers: less than asked while the server has been up for less. */
  coveredSeconds: number;
  droppedRequests: number;
  refusedSeries: number;
  refusedErrors: number;
}

export class TelemetryWindow {
  private readonly ring: Array<Bucket | undefined> = new Array(RETENTION_SECONDS);
  /** Every known series and the last second it was reported in. */
  private readonly known = new Map<string, number>();
  private readonly startedAt: number;
  private readonly maxSeries: number;

  constructor(startedAtMs: number, maxSeries = MAX_SERIES) {
    this.startedAt = startedAtMs;
    this.maxSeries = maxSeries;
  }

  /** Adds one report's series to the bucket of the second it arrived in. */
  ingest(series: readonly ReportedSeries[], nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const bucket = this.bucketAt(second);
    for (const s of series) {
      const key = seriesKey(s);
      if (!this.admit(key, second)) {
        bucket.droppedRequests += s.requests;
        continue;
      }
      let into = bucket.series.get(key);
      if (!into) {
        into = emptySeries(s.direction, s.source, s.destination);
        bucket.series.set(key, into);
      }
      addSeries(into, s);
    }
  }

  /** Counts entries of a report that were not ingested because the node may not speak for them. */
  refuse(refused: { series: number; errors: number }, nowMs: number): void {
    if (refused.series === 0 && refused.errors === 0) return;
    const bucket = this.bucketAt(Math.floor(nowMs / 1000));
    bucket.refusedSeries += refused.series;
    bucket.refusedErrors += refused.errors;
  }

  /**
   * The last `seconds` whole seconds, merged. The current second is left out: reports are still
   * arriving in it, and counting part of a second as a whole one would read every rate low.
   */
  read(seconds: number, nowMs: number): WindowRead {
    const now = Math.floor(nowMs / 1000) - 1;
    const merged = new Map<string, MergedSeries>();
    let droppedRequests = 0;
    let refusedSeries = 0;
    let refusedErrors = 0;
    for (let second = now - Math.min(seconds, RETENTION_SECONDS) + 1; second <= now; second++) {
      const bucket = this.ring[mod(second, RETENTION_SECONDS)];
      if (!bucket || bucket.second !== second) continue;
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
    const up = Math.floor(nowMs / 1000) - Math.floor(this.startedAt / 1000);
    return { series: [...merged.values()], coveredSeconds: Math.max(1, Math.min(seconds, up)), droppedRequests, refusedSeries, refusedErrors };
  }

  private bucketAt(second: number): Bucket {
    const slot = mod(second, RETENTION_SECONDS);
    let bucket = this.ring[slot];
    if (!bucket || bucket.second !== second) {
      // The slot held a second 10 minutes old (or older): it leaves every window now.
      bucket = { second, series: new Map(), droppedRequests: 0, refusedSeries: 0, refusedErrors: 0 };
      this.ring[slot] = bucket;
    }
    return bucket;
  }

  /** Whether a series may be counted: known, or there is room (made by forgetting series older than the retention). */
  private admit(key: string, second: number): boolean {
    if (this.known.has(key)) {
      this.known.set(key, second);
      return true;
    }
    if (this.known.size >= this.maxSeries) {
      for (const [k, last] of this.known) if (last <= second - RETENTION_SECONDS) this.known.delete(k);
      if (this.known.size >= this.maxSeries) return false;
    }
    this.known.set(key, second);
    return true;
  }
}

const mod = (a: number, n: number) => ((a % n) + n) % n;
