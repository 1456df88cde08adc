// The reports the server has not taken yet, kept by when they were taken, so
// that after an outage each lands in the part of the server's window it
// belongs to (the report says how old it is: its age, not a timestamp, so the
// agent's and the server's clocks need not agree). Deltas taken in the same
// 10 seconds share one slice (the server's own coarse step: its 1 m and 10 m
// windows stay exact, and its 10 s window is off by at most one slice's
// placement). Pure, with the time passed in.
//
// Bounded: a slice holds at most REPORT_LIMITS.series series (a delta adding
// more loses those counts, as the summary's own table does), the newest
// REPORT_LIMITS.errors errors, and slices older than the server keeps
// (REPORT_MAX_AGE_MS) are dropped; what is lost is counted in `dropped`.

import { addSeries, type SeriesTotals } from '../../lib/telemetry-series.ts';
import { REPORT_LIMITS, REPORT_MAX_AGE_MS, type ReportedError } from '../../config/telemetry-report.ts';
import type { SummaryDelta } from './summary.ts';

const SLICE_MS = 10_000;

export interface BacklogSlice {
  /** When its newest delta was taken (ms, the agent's clock). */
  takenAt: number;
  readonly series: Map<string, SeriesTotals>;
  errors: ReportedError[];
}

export class ReportBacklog {
  private readonly slices: BacklogSlice[] = [];
  /** Requests and closed connections whose counts were lost: a full slice, or older than the server keeps. */
  dropped = 0;

  get length(): number {
    return this.slices.length;
  }

  /** The oldest slice, the next to send. */
  first(now: number): BacklogSlice | undefined {
    this.expire(now);
    return this.slices[0];
  }

  /** The oldest slice was taken by the server. */
  shift(): void {
    this.slices.shift();
  }

  add(delta: SummaryDelta, takenAt: number): void {
    let slice = this.slices.at(-1);
    if (!slice || Math.floor(slice.takenAt / SLICE_MS) !== Math.floor(takenAt / SLICE_MS)) {
      slice = { takenAt, series: new Map(), errors: [] };
      this.slices.push(slice);
    }
    slice.takenAt = takenAt;
    for (const [key, s] of delta.series) {
      const into = slice.series.get(key);
      if (into) addSeries(into, s);
      else if (slice.series.size < REPORT_LIMITS.series) slice.series.set(key, s);
      else this.dropped += s.requests + s.tcpClosed;
    }
    slice.errors = [...slice.errors, ...delta.errors].slice(-REPORT_LIMITS.errors);
    this.expire(takenAt);
  }

  /** Slices the server would no longer count anywhere go. */
  private expire(now: number): void {
    while (this.slices.length > 0 && now - (this.slices[0] as BacklogSlice).takenAt > REPORT_MAX_AGE_MS) {
      for (const s of (this.slices.shift() as BacklogSlice).series.values()) this.dropped += s.requests + s.tcpClosed;
    }
  }
}
