// The agent's Prometheus metrics: a TelemetrySink that counts what the proxy
// reports, on a registry of its own (never prom-client's global one, which
// any library in the process could write to), plus gauges read at scrape
// time (certificate expiry, the config version applied) and Node's process
// metrics. Each record costs a few map lookups: the sink runs on the
// request's own turn of the event loop. HTTP records, the hot path, skip
// prom-client's per-call label hashing (http-series.ts).

import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Direction, HttpRecord, ResilienceEvent, TcpRecord, TelemetrySink } from '../../proxy/telemetry/records.ts';
import { HttpSeriesTable } from './http-series.ts';
import { DURATION_BUCKETS, OVERFLOW_LABELS, RESILIENCE_LABELS, resilienceSeries, TCP_LABELS, tcpLabels, tcpRecordLabels } from './labels.ts';

/** What the agent knows at scrape time. */
export interface AgentReadings {
  /** Each service's current leaf and when it expires (ms since the epoch); a service without a leaf is left out. */
  certificates(): ReadonlyArray<{ service: string; notAfter: number }>;
  /** The config version (catalog index) of the snapshot the proxy last applied. */
  configVersion(): number;
  /** What the tracer did with its spans since it was made; undefined while tracing is off. */
  spans?(): Readonly<Record<'exported' | 'failed' | 'dropped' | 'overBudget', number>> | undefined;
}

/** Node's process metrics are exported as meshctl_agent_process_*, meshctl_agent_nodejs_*. */
export const PROCESS_METRICS_PREFIX = 'meshctl_agent_';
const UNLINTED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class MetricsSink implements TelemetrySink {
  readonly registry = new Registry();
  private readonly requests = new HttpSeriesTable(DURATION_BUCKETS);
  private readonly tcpOpenedTotal: Counter<string>;
  private readonly tcpClosedTotal: Counter<string>;
  private readonly tcpOpen: Gauge<string>;
  private readonly tcpSent: Counter<string>;
  private readonly tcpReceived: Counter<string>;
  private readonly resilienceCounters: Record<ResilienceEvent['kind'], Counter<string>>;

  constructor(readings: AgentReadings) {
    const registers = [this.registry];
    // Registered where the Counter and Histogram they replace were, so /metrics lists them in the same place.
    // The cast: prom-client's types name its own classes, its registry only reads get() (and getForPromString, reset).
    this.registry.registerMetric(this.requests.counter('meshctl_requests_total', 'HTTP requests (and HTTP/2 streams, gRPC calls) the proxy finished, by the proxy that saw them (direction).') as unknown as Metric);
    this.registry.registerMetric(this.requests.histogram('meshctl_request_duration_seconds', 'Time from a request arriving at the proxy to the last byte of its answer.') as unknown as Metric);
    this.tcpOpenedTotal = new Counter({ name: 'meshctl_tcp_connections_opened_total', help: 'TCP connections (services with protocol tcp) the proxy accepted.', labelNames: TCP_LABELS, registers });
    this.tcpClosedTotal = new Counter({ name: 'meshctl_tcp_connections_closed_total', help: 'TCP connections the proxy has closed.', labelNames: TCP_LABELS, registers });
    this.tcpOpen = new Gauge({ name: 'meshctl_tcp_connections_open', help: 'TCP connections open now.', labelNames: TCP_LABELS, registers });
    this.tcpSent = new Counter({ name: 'meshctl_tcp_sent_bytes_total', help: 'Bytes from the side that opened the connection, counted when it closes.', labelNames: TCP_LABELS, registers });
    this.tcpReceived = new Counter({ name: 'meshctl_tcp_received_bytes_total', help: 'Bytes back to the side that opened the connection, counted when it closes.', labelNames: TCP_LABELS, registers });
    this.resilienceCounters = {
      retry: new Counter({ name: 'meshctl_retries_total', help: 'Retries the outbound proxy made (attempts after the first).', labelNames: RESILIENCE_LABELS, registers }),
      retry_budget_exhausted: new Counter({ name: 'meshctl_retry_budget_exhausted_total', help: 'Retries not made because the retry budget was spent.', labelNames: RESILIENCE_LABELS, registers }),
      ejection: new Counter({ name: 'meshctl_outlier_ejections_total', help: 'Instances ejected by outlier detection.', labelNames: RESILIENCE_LABELS, registers }),
      overflow: new Counter({ name: 'meshctl_circuit_breaker_overflows_total', help: 'Requests or connections refused because a circuit-breaker limit was reached.', labelNames: OVERFLOW_LABELS, registers }),
    };
    new Gauge({
      name: 'meshctl_certificate_expiry_timestamp_seconds',
      help: "When each local service's current leaf certificate expires (Unix seconds).",
      labelNames: ['service'],
      registers,
      collect() {
        // Read afresh at each scrape: a renewed leaf replaces the old value, a dropped service disappears.
        this.reset();
        for (const leaf of readings.certificates()) this.set({ service: leaf.service }, Math.floor(leaf.notAfter / 1000));
      },
    });
    new Gauge({
      name: 'meshctl_config_version',
      help: 'The version (catalog index) of the mesh config the proxy last applied.',
      registers,
      collect() {
        this.set(readings.configVersion());
      },
    });
    new Counter({
      name: 'meshctl_trace_spans_total',
      help: 'Spans by what became of them: exported to the collector, failed (the collector did not take them), dropped (queue full), over_budget (tracing.max_spans_per_second spent). Starts again when the tracing settings change.',
      labelNames: ['outcome'],
      registers,
      collect() {
        const spans = readings.spans?.();
        this.reset();
        if (!spans) return;
        for (const [outcome, value] of [['exported', spans.exported], ['failed', spans.failed], ['dropped', spans.dropped], ['over_budget', spans.overBudget]] as const) this.inc({ outcome }, value);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: PROCESS_METRICS_PREFIX });
    // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool check
    // metrics refuses them); they are the sums of the per-type gauges kept beside them.
    for (const name of UNLINTED_DEFAULT_GAUGES) this.registry.removeSingleMetric(`${PROCESS_METRICS_PREFIX}${name}`);
  }

  http(record: HttpRecord): void {
    this.requests.record(record);
  }

  tcpOpened(direction: Direction, source: string, destination: string): void {
    const labels = tcpLabels(direction, source, destination);
    this.tcpOpenedTotal.inc(labels);
    this.tcpOpen.inc(labels);
  }

  tcp(record: TcpRecord): void {
    const labels = tcpRecordLabels(record);
    this.tcpClosedTotal.inc(labels);
    this.tcpOpen.dec(labels);
    this.tcpSent.inc(labels, record.bytesSent);
    this.tcpReceived.inc(labels, record.bytesReceived);
  }

  resilience(event: ResilienceEvent): void {
    const { metric, labels } = resilienceSeries(event);
    this.resilienceCounters[metric].inc(labels);
  }

  /** The text exposition, and its content type (the registry's). */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
