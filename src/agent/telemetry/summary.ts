// The agent's summary of its proxy's traffic for the control plane: counts per
// (direction, source, destination), a latency histogram, TCP connections and
// bytes, and the last mesh errors and upstream 5xx. A telemetry sink: each
// record costs a map lookup and a few additions. The reporter takes what has
// gathered since the last report (take); one the server did not acknowledge
// waits in the reporter's backlog (report-backlog.ts).
//
// Memory is bounded: at most REPORT_LIMITS.series series (records for further
// ones are dropped and counted in `droppedRecords`, which the agent logs) and
// the newest REPORT_LIMITS.errors errors. The open-connection gauges are kept
// apart from the series table, so a full table never leaves one open. An
// error keeps the request's path without its query string.

import type { Clock } from '../../lib/clock.ts';
import { emptySeries, type SeriesTotals } from '../../lib/telemetry-series.ts';
import { REPORT_LIMITS, seriesKey, type ReportedError, type ReportedOpen, type ReportedSeries } from '../../config/telemetry-report.ts';
import type { Direction, HttpRecord, TcpRecord, TelemetrySink } from '../../proxy/telemetry/records.ts';
import { pathOnly } from '../../lib/http/path-normalize.ts';

type Series = SeriesTotals;

/** What gathered between two reports: the reporter's unit of send and give-back. */
export interface SummaryDelta {
  readonly series: ReadonlyMap<string, Series>;
  readonly errors: readonly ReportedError[];
}

/** success = status < 500 and no mesh failure (a 403 intention denial is a failure of the mesh's making). */
export const isSuccess = (record: Pick<HttpRecord, 'status' | 'failure'>): boolean => record.status < 500 && !record.failure;

export class SummarySink implements TelemetrySink {
  private series = new Map<string, Series>();
  /**
   * The same series by direction → source → destination, for the per-record lookup: strings the
   * record already holds (their hashes cached) instead of a key string built and hashed per record.
   */
  private index = new Map<string, Map<string, Map<string, Series>>>();
  private errors: ReportedError[] = [];
  /** Open TCP connections per series: a gauge, never reset by take(). */
  private readonly open = new Map<string, ReportedOpen>();
  private readonly clock: Clock;
  /** Records that found the series table full (REPORT_LIMITS.series distinct series). */
  droppedRecords = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  http(record: HttpRecord): void {
    const series = this.seriesFor(record.direction, record.source, record.destination);
    if (series) {
      series.requests += 1;
      if (isSuccess(record)) series.successes += 1;
      series.latency.record(record.durationMs);
    }
    const cause = errorCause(record);
    if (cause) {
      const f = record.failure;
      this.pushError({
        time: new Date(this.clock.now()).toISOString(),
        direction: record.direction,
        source: record.source,
        destination: record.destination,
        status: record.status,
        cause,
        hop: f?.hop ?? record.direction,
        ...optionalText('endpoint', f?.endpoint ?? record.endpoint),
        ...optionalText('policy', f?.policy),
        ...optionalText('detail', f?.detail),
        method: record.method.slice(0, REPORT_LIMITS.textChars),
        // Without the query: the errors are served to read-only tokens, and a query carries what a path does not.
        path: pathOnly(record.path).slice(0, REPORT_LIMITS.textChars),
      });
    }
  }

  tcpOpened(direction: Direction, source: string, destination: string): void {
    // The gauge is kept whether or not the series table has room: a close must always find its open.
    const key = seriesKey({ direction, source, destination });
    const gauge = this.open.get(key) ?? { direction, source, destination, open: 0 };
    gauge.open += 1;
    this.open.set(key, gauge);
    const series = this.seriesFor(direction, source, destination);
    if (series) series.tcpOpened += 1;
  }

  tcp(record: TcpRecord): void {
    const key = seriesKey(record);
    const gauge = this.open.get(key);
    if (gauge && --gauge.open <= 0) this.open.delete(key);
    const series = this.seriesFor(record.direction, record.source, record.destination);
    if (!series) return;
    series.tcpClosed += 1;
    series.bytesIn += record.bytesSent;
    series.bytesOut += record.bytesReceived;
  }

  /** What gathered since the last take; the sink starts a new delta. */
  take(): SummaryDelta {
    const delta = { series: this.series, errors: this.errors };
    this.series = new Map();
    this.index = new Map();
    this.errors = [];
    return delta;
  }

  /**
   * The open-connection gauges, as reported: at most REPORT_LIMITS.series of them (the fullest),
   * so a report always passes the server's schema. The map itself holds an entry only while a
   * connection is open, so the open sockets bound it.
   */
  openConnections(): ReportedOpen[] {
    const gauges = [...this.open.values()].map((g) => ({ ...g }));
    return gauges.length <= REPORT_LIMITS.series ? gauges : gauges.sort((a, b) => b.open - a.open).slice(0, REPORT_LIMITS.series);
  }

  private seriesFor(direction: Direction, source: string, destination: string): Series | undefined {
    const known = this.index.get(direction)?.get(source)?.get(destination);
    if (known) return known;
    // First record of the series in this delta (or one the table has no room for): the keyed table decides.
    const key = seriesKey({ direction, source, destination });
    let series = this.series.get(key);
    if (!series) {
      // Refused before anything is indexed: a full table grows no index either.
      if (this.series.size >= REPORT_LIMITS.series) {
        this.droppedRecords += 1;
        return undefined;
      }
      series = emptySeries(direction, source, destination);
      this.series.set(key, series);
    }
    let bySource = this.index.get(direction);
    if (!bySource) this.index.set(direction, (bySource = new Map()));
    let byDestination = bySource.get(source);
    if (!byDestination) bySource.set(source, (byDestination = new Map()));
    byDestination.set(destination, series);
    return series;
  }

  private pushError(error: ReportedError): void {
    this.errors.push(error);
    if (this.errors.length > REPORT_LIMITS.errors) this.errors.shift();
  }
}

/** A delta's series as the report carries them. */
export function reportedSeries(delta: SummaryDelta): ReportedSeries[] {
  return [...delta.series.values()].map((s) => ({ ...s, latency: s.latency.toSparse() }));
}

/**
 * Which errors the control plane hears of, each from one proxy only: a mesh
 * failure from the proxy that made it; an app's 5xx from the callee's inbound
 * proxy (the caller's outbound proxy only relays it, and would count it twice).
 */
function errorCause(record: HttpRecord): string | undefined {
  if (record.failure) return record.failure.hop === record.direction ? record.failure.cause : undefined;
  if (record.status >= 500 && record.direction === 'inbound') return 'upstream_5xx';
  return undefined;
}

function optionalText<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value.slice(0, REPORT_LIMITS.textChars) } as Record<K, string>) : {};
}
