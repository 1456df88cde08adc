// Sends the summary to the control plane: every second when something
// happened, at least every 10 s as a heartbeat (it refreshes the server's
// open-connection gauges). One report in flight at a time; a report that
// fails is merged back into the summary and goes out with the next one, so
// the server sees every request once the link is back (counted in the second
// the report arrives in, not the one the request was made in). When the
// agent stops, flush() sends what gathered since the last report, bounded by
// a short timeout so an unreachable server never holds the stop.

import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { TelemetryReport } from '../../config/telemetry-report.ts';
import { reportedSeries, type SummaryDelta, type SummarySink } from './summary.ts';

export const REPORT_INTERVAL_MS = 1000;
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** How long a stopping agent waits for its last report. */
export const FLUSH_TIMEOUT_MS = 1000;

export interface ReporterOptions {
  node: string;
  summary: SummarySink;
  clock: Clock;
  /** PUT /v1/mesh/telemetry; rejects when the server did not take the report. */
  send: (report: TelemetryReport) => Promise<void>;
  log?: (line: string) => void;
}

export class TelemetryReporter {
  private readonly options: ReporterOptions;
  private timer: TimerHandle | undefined;
  private inFlight = false;
  /** The report in flight; never rejects (flush waits for it, then sends what came after). */
  private sending: Promise<void> = Promise.resolve();
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private failing = false;
  private loggedDropped = 0;
  /** Counters for the agent's status and for tests. */
  readonly stats = { sent: 0, failed: 0 };

  constructor(options: ReporterOptions) {
    this.options = options;
  }

  start(): void {
    if (this.timer) return;
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * Stops, then sends what gathered since the last report (up to a second of counts a stop would
   * lose): after the report in flight, if any. Resolves within timeoutMs whatever the server does.
   */
  async flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    this.stop();
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => (timer = this.options.clock.after(timeoutMs, resolve)));
    await Promise.race([this.sending.then(() => this.tick()), timeout]);
    timer?.cancel();
  }

  private schedule(): void {
    this.timer = this.options.clock.after(REPORT_INTERVAL_MS, () => {
      void this.tick().finally(() => {
        if (this.timer) this.schedule();
      });
    });
  }

  /** One report, if there is something to say or a heartbeat is due. Exposed for tests. */
  async tick(): Promise<void> {
    const { summary, clock } = this.options;
    if (this.inFlight) return;
    if (summary.droppedRecords > this.loggedDropped) {
      this.options.log?.(`telemetry: ${summary.droppedRecords - this.loggedDropped} record(s) dropped, the summary holds its maximum number of series`);
      this.loggedDropped = summary.droppedRecords;
    }
    const delta = summary.take();
    const quiet = delta.series.size === 0 && delta.errors.length === 0;
    if (quiet && clock.now() - this.lastSentAt < HEARTBEAT_INTERVAL_MS) return;
    this.inFlight = true;
    this.sending = this.send(delta);
    await this.sending;
  }

  /** Sends one delta; a failure gives it back to the summary. Never rejects. */
  private async send(delta: SummaryDelta): Promise<void> {
    const { summary, clock } = this.options;
    try {
      await this.options.send({ node: this.options.node, series: reportedSeries(delta), open: summary.openConnections(), errors: [...delta.errors] });
      this.lastSentAt = clock.now();
      this.stats.sent += 1;
      if (this.failing) this.options.log?.('telemetry: reports reach the server again');
      this.failing = false;
    } catch (error) {
      summary.restore(delta);
      this.stats.failed += 1;
      // One line per outage, not one a second.
      if (!this.failing) this.options.log?.(`telemetry: report failed, its counts go with the next one: ${(error as Error).message}`);
      this.failing = true;
    } finally {
      this.inFlight = false;
    }
  }
}
