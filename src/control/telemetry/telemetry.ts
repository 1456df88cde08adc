// The server's telemetry state, in memory only (a restarted server starts an
// empty window: these are rates, not records): the per-second window, the
// open-connection gauges and the error ring, fed by agent reports.

import type { Clock } from '../../lib/clock.ts';
import { seriesKey, type TelemetryReport } from '../../config/telemetry-report.ts';
import { ErrorRing, type StoredError } from './errors.ts';
import { OpenGauges } from './gauges.ts';
import { buildStats, type StatsAnswer, type WindowName, WINDOWS } from './stats.ts';
import { TelemetryWindow } from './window.ts';

export class TelemetryState {
  private readonly clock: Clock;
  private readonly window: TelemetryWindow;
  private readonly gauges = new OpenGauges();
  private readonly errorRing = new ErrorRing();

  constructor(clock: Clock) {
    this.clock = clock;
    this.window = new TelemetryWindow(clock.now());
  }

  report(report: TelemetryReport): void {
    const now = this.clock.now();
    this.window.ingest(report.series, now);
    this.gauges.set(report.node, report.open, now);
    this.errorRing.add(report.node, report.errors);
  }

  stats(window: WindowName, instances: ReadonlyMap<string, { healthy: number; total: number }>, service?: string): StatsAnswer {
    const now = this.clock.now();
    return buildStats({ window, read: this.window.read(WINDOWS[window], now), open: this.gauges.sum(now, seriesKey), instances, nowMs: now, ...(service ? { service } : {}) });
  }

  errors(options: { service?: string; limit: number }): StoredError[] {
    return this.errorRing.list(options);
  }
}
