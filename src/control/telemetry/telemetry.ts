// The server's telemetry state, in memory only (a restarted server starts an
// empty window: these are rates, not records): the tiered window, the
// open-connection gauges and the error ring, fed by agent reports. A report
// counts only for traffic the reporting node's proxies can have seen
// (node-scope.ts); the rest is counted as refused and logged.

import type { Clock } from '../../lib/clock.ts';
import { seriesKey, type TelemetryReport } from '../../config/telemetry-report.ts';
import { ErrorRing, type StoredError } from './errors.ts';
import { OpenGauges } from './gauges.ts';
import { scopeReport, seenByNode, type Refused } from './node-scope.ts';
import { RefusalLog } from './refusal-log.ts';
import { STATS_WINDOWS, type StatsAnswer, type StatsWindow } from '../../lib/stats/answer.ts';
import { buildStats } from './stats.ts';
import { TelemetryWindow } from './window.ts';

export class TelemetryState {
  private readonly clock: Clock;
  private readonly window: TelemetryWindow;
  private readonly gauges = new OpenGauges();
  private readonly errorRing = new ErrorRing();
  private readonly refusals: RefusalLog;

  constructor(clock: Clock, log: (line: string) => void = () => {}) {
    this.clock = clock;
    this.window = new TelemetryWindow(clock.now());
    this.refusals = new RefusalLog(log);
  }

  /** Merges a report; `hosted` is the services the catalog has on report.node. */
  report(report: TelemetryReport, hosted: ReadonlySet<string>): Refused {
    const now = this.clock.now();
    const { report: scoped, refused } = scopeReport(report, hosted);
    this.window.ingest(scoped.series, now, report.node, report.ageMs ?? 0);
    this.window.refuse({ series: refused.series + refused.open, errors: refused.errors }, now);
    this.gauges.set(report.node, scoped.open, now);
    this.errorRing.add(report.node, scoped.errors);
    const example = [...report.series, ...report.open, ...report.errors].find((e) => !seenByNode(e, hosted));
    if (example) this.refusals.note(report.node, refused, `${example.direction} ${example.source || '(outside the mesh)'} → ${example.destination}`, now);
    return refused;
  }

  stats(window: StatsWindow, instances: ReadonlyMap<string, { healthy: number; total: number }>, service?: string): StatsAnswer {
    const now = this.clock.now();
    return buildStats({ window, read: this.window.read(STATS_WINDOWS[window], now), open: this.gauges.sum(now, seriesKey), instances, nowMs: now, ...(service ? { service } : {}) });
  }

  errors(options: { service?: string; limit: number }): StoredError[] {
    return this.errorRing.list(options);
  }
}
