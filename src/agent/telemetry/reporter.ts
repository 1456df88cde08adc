// Sends the summary to the control plane: every second when something
// happened, at least every 10 s as a heartbeat (it refreshes the server's
// open-connection gauges). One report in flight at a time. A report that
// fails goes into the backlog (report-backlog.ts) with when it was taken;
// once the server answers again the backlog goes out oldest first, each
// report saying how old its counts are, so the server counts them in the
// seconds they happened in rather than in the one they arrive in. When the
// agent stops, flush() sends what gathered since the last report, bounded by
// a short timeout so an unreachable server never holds the stop.

import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { REPORT_MAX_AGE_MS, type TelemetryReport } from '../../config/telemetry-report.ts';
import { reportedSeries, type SummaryDelta, type SummarySink } from './summary.ts';
import { ReportBacklog, type BacklogSlice } from './report-backlog.ts';

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
  /** Where in each second of its clock this agent reports (default: from the node name). */
  phaseMs?: number;
}

/**
 * A node's place in the second, the same at every start: a fleet's reports
 * spread over the second instead of all arriving at once.
 */
export function reportPhaseMs(node: string): number {
  let hash = 2166136261;
  for (let i = 0; i < node.length; i++) hash = Math.imul(hash ^ node.charCodeAt(i), 16777619);
  return (hash >>> 0) % REPORT_INTERVAL_MS;
}

export class TelemetryReporter {
  private readonly options: ReporterOptions;
  private timer: TimerHandle | undefined;
  /** When the timer set last was due: the next one is a second on. */
  private nextAt: number | undefined;
  private inFlight = false;
  /** The report in flight; never rejects (flush waits for it, then sends what came after). */
  private sending: Promise<void> = Promise.resolve();
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private failing = false;
  private loggedDropped = 0;
  private loggedBacklogDropped = 0;
  private readonly backlog = new ReportBacklog();
  /** Counters for the agent's status and for tests. */
  readonly stats = { sent: 0, failed: 0 };

  /** Where in each second this agent reports: from its node name, worked out once. */
  private readonly phaseMs: number;

  constructor(options: ReporterOptions) {
    this.options = options;
    this.phaseMs = options.phaseMs ?? reportPhaseMs(options.node);
  }

  start(): void {
    if (this.timer) return;
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.nextAt = undefined;
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

  /**
   * The next tick at this agent's phase of the next second, not a second after
   * the last report ended: the server counts a fresh report in the second it
   * arrives in, so a period of a second plus the send would now and then put
   * two reports in one second and none in the next (a 10 s window a tenth off).
   * Counted on from the last tick's target, not from now: a timer that fires a
   * little early (Node's can, by a millisecond) must not make a tick of its own.
   */
  private schedule(): void {
    const { clock } = this.options;
    const now = clock.now();
    const following = this.nextAt === undefined ? undefined : this.nextAt + REPORT_INTERVAL_MS;
    // A send that took longer than the second: the next phase from now.
    const at = following !== undefined && following > now ? following : this.phaseAfter(now);
    this.nextAt = at;
    this.timer = clock.after(at - now, () => {
      void this.tick().finally(() => {
        if (this.timer) this.schedule();
      });
    });
  }

  /** The first moment after `now` at this agent's phase of a second. */
  private phaseAfter(now: number): number {
    const intoSecond = (((now - this.phaseMs) % REPORT_INTERVAL_MS) + REPORT_INTERVAL_MS) % REPORT_INTERVAL_MS;
    return now + REPORT_INTERVAL_MS - intoSecond;
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
    const now = clock.now();
    const quiet = delta.series.size === 0 && delta.errors.length === 0;
    if (this.backlog.length > 0) {
      if (!quiet) this.backlog.add(delta, now);
    } else if (quiet && now - this.lastSentAt < HEARTBEAT_INTERVAL_MS) {
      return;
    }
    this.inFlight = true;
    this.sending = this.backlog.length > 0 ? this.drain() : this.send(delta, now);
    await this.sending;
  }

  /** Sends one delta as it was taken; a failure puts it in the backlog. Never rejects. */
  private async send(delta: SummaryDelta, takenAt: number): Promise<void> {
    try {
      await this.put(delta, 0);
    } catch (error) {
      this.backlog.add(delta, takenAt);
      this.failed(error as Error);
    } finally {
      this.inFlight = false;
    }
  }

  /** Sends the backlog, oldest first, until it is empty or a report fails. Never rejects. */
  private async drain(): Promise<void> {
    const { clock } = this.options;
    try {
      for (let slice: BacklogSlice | undefined; (slice = this.backlog.first(clock.now())); ) {
        await this.put(slice, Math.min(REPORT_MAX_AGE_MS, clock.now() - slice.takenAt));
        this.backlog.shift();
      }
    } catch (error) {
      this.failed(error as Error);
    } finally {
      this.inFlight = false;
      if (this.backlog.dropped > this.loggedBacklogDropped) {
        this.options.log?.(`telemetry: ${this.backlog.dropped - this.loggedBacklogDropped} request(s) not reported: the server was away longer than it keeps (10 minutes), or their series did not fit`);
        this.loggedBacklogDropped = this.backlog.dropped;
      }
    }
  }

  private async put(delta: SummaryDelta, ageMs: number): Promise<void> {
    const { summary, clock } = this.options;
    await this.options.send({ node: this.options.node, series: reportedSeries(delta), open: summary.openConnections(), errors: [...delta.errors], ...(ageMs > 0 ? { ageMs } : {}) });
    this.lastSentAt = clock.now();
    this.stats.sent += 1;
    if (this.failing) this.options.log?.('telemetry: reports reach the server again');
    this.failing = false;
  }

  private failed(error: Error): void {
    this.stats.failed += 1;
    // One line per outage, not one a second.
    if (!this.failing) this.options.log?.(`telemetry: report failed, its counts go out when the server answers again: ${error.message}`);
    this.failing = true;
  }
}
