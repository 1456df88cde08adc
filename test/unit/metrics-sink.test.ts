// The metrics sink: records in, exact counts out in the text exposition, on a
// registry of its own; gauges read at scrape time.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { MetricsSink } from '../../src/agent/telemetry/metrics.ts';
import type { HttpRecord } from '../../src/proxy/telemetry/records.ts';

const record = (change: Partial<HttpRecord>): HttpRecord => ({ direction: 'outbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/', status: 200, mtls: true, startedAt: 0, durationMs: 3, requestBytes: 0, responseBytes: 2, ...change });

/** The value of one series in the exposition, by its exact label text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('requests and durations are counted per label set, in seconds', async () => {
  const sink = new MetricsSink({ certificates: () => [], configVersion: () => 0 });
  for (let i = 0; i < 3; i++) sink.http(record({ durationMs: 3 }));
  sink.http(record({ status: 503, durationMs: 1500 }));
  sink.http(record({ direction: 'inbound', source: '', mtls: false, durationMs: 20 }));
  const { body, contentType } = await sink.exposition();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const out = 'direction="outbound",source_service="web",destination_service="api",route="",response_code="200",mtls="true"';
  assert.equal(sample(body, `meshctl_requests_total{${out}}`), 3);
  assert.equal(sample(body, 'meshctl_requests_total{direction="outbound",source_service="web",destination_service="api",route="",response_code="503",mtls="true"}'), 1);
  assert.equal(sample(body, 'meshctl_requests_total{direction="inbound",source_service="",destination_service="api",route="",response_code="200",mtls="false"}'), 1);
  assert.equal(sample(body, `meshctl_request_duration_seconds_bucket{le="0.0025",${out}}`), 0);
  assert.equal(sample(body, `meshctl_request_duration_seconds_bucket{le="0.005",${out}}`), 3);
  assert.equal(sample(body, `meshctl_request_duration_seconds_count{${out}}`), 3);
  assert.ok(Math.abs((sample(body, `meshctl_request_duration_seconds_sum{${out}}`) ?? 0) - 0.009) < 1e-9);
  assert.equal(sample(body, 'meshctl_request_duration_seconds_bucket{le="2.5",direction="outbound",source_service="web",destination_service="api",route="",response_code="503",mtls="true"}'), 1);
});

test('TCP connections: opened, closed, open now and bytes each way', async () => {
  const sink = new MetricsSink({ certificates: () => [], configVersion: () => 0 });
  sink.tcpOpened('outbound', 'web', 'redis');
  sink.tcpOpened('outbound', 'web', 'redis');
  sink.tcp({ direction: 'outbound', source: 'web', destination: 'redis', mtls: true, startedAt: 0, durationMs: 9, bytesSent: 100, bytesReceived: 2500 });
  const { body } = await sink.exposition();
  const l = '{direction="outbound",source_service="web",destination_service="redis"}';
  assert.equal(sample(body, `meshctl_tcp_connections_opened_total${l}`), 2);
  assert.equal(sample(body, `meshctl_tcp_connections_closed_total${l}`), 1);
  assert.equal(sample(body, `meshctl_tcp_connections_open${l}`), 1);
  assert.equal(sample(body, `meshctl_tcp_sent_bytes_total${l}`), 100);
  assert.equal(sample(body, `meshctl_tcp_received_bytes_total${l}`), 2500);
});

test('resilience events count by destination (and limit, for overflows)', async () => {
  const sink = new MetricsSink({ certificates: () => [], configVersion: () => 0 });
  sink.resilience({ kind: 'retry', service: 'api', endpoint: 'a' });
  sink.resilience({ kind: 'retry', service: 'api', endpoint: 'b' });
  sink.resilience({ kind: 'retry_budget_exhausted', service: 'api' });
  sink.resilience({ kind: 'ejection', service: 'api', endpoint: 'a' });
  sink.resilience({ kind: 'overflow', service: 'api', limit: 'max_requests' });
  const { body } = await sink.exposition();
  assert.equal(sample(body, 'meshctl_retries_total{destination_service="api"}'), 2);
  assert.equal(sample(body, 'meshctl_retry_budget_exhausted_total{destination_service="api"}'), 1);
  assert.equal(sample(body, 'meshctl_outlier_ejections_total{destination_service="api"}'), 1);
  assert.equal(sample(body, 'meshctl_circuit_breaker_overflows_total{destination_service="api",limit="max_requests"}'), 1);
});

test('certificate expiry and config version are read at each scrape; process metrics carry the prefix', async () => {
  let leaves = [{ service: 'web', notAfter: 1_900_000_000_500 }];
  let version = 7;
  const sink = new MetricsSink({ certificates: () => leaves, configVersion: () => version });
  let { body } = await sink.exposition();
  assert.equal(sample(body, 'meshctl_certificate_expiry_timestamp_seconds{service="web"}'), 1_900_000_000);
  assert.equal(sample(body, 'meshctl_config_version'), 7);
  assert.match(body, /^meshctl_agent_process_cpu_user_seconds_total \d/m);
  assert.match(body, /^meshctl_agent_nodejs_heap_size_used_bytes \d/m);
  leaves = [{ service: 'api', notAfter: 1_950_000_000_000 }];
  version = 9;
  ({ body } = await sink.exposition());
  assert.equal(sample(body, 'meshctl_certificate_expiry_timestamp_seconds{service="web"}'), undefined, 'a dropped service leaves');
  assert.equal(sample(body, 'meshctl_certificate_expiry_timestamp_seconds{service="api"}'), 1_950_000_000);
  assert.equal(sample(body, 'meshctl_config_version'), 9);
});

test('two sinks in one process have their own registries, and the global one stays empty of ours', async () => {
  const a = new MetricsSink({ certificates: () => [], configVersion: () => 0 });
  const b = new MetricsSink({ certificates: () => [], configVersion: () => 0 });
  a.http(record({}));
  assert.match((await a.exposition()).body, /^meshctl_requests_total\{/m);
  assert.doesNotMatch((await b.exposition()).body, /^meshctl_requests_total\{/m);
  assert.doesNotMatch(await globalRegistry.metrics(), /meshctl_/);
});

test("the tracer's span counts are read at each scrape, and none are shown while tracing is off", async () => {
  let spans: { exported: number; failed: number; dropped: number; overBudget: number } | undefined;
  const sink = new MetricsSink({ certificates: () => [], configVersion: () => 0, spans: () => spans });
  let { body } = await sink.exposition();
  assert.equal(sample(body, 'meshctl_trace_spans_total{outcome="exported"}'), undefined, 'tracing off');
  spans = { exported: 120, failed: 3, dropped: 0, overBudget: 41 };
  ({ body } = await sink.exposition());
  assert.equal(sample(body, 'meshctl_trace_spans_total{outcome="exported"}'), 120);
  assert.equal(sample(body, 'meshctl_trace_spans_total{outcome="failed"}'), 3);
  assert.equal(sample(body, 'meshctl_trace_spans_total{outcome="dropped"}'), 0);
  assert.equal(sample(body, 'meshctl_trace_spans_total{outcome="over_budget"}'), 41);
  spans = { exported: 130, failed: 3, dropped: 0, overBudget: 41 };
  ({ body } = await sink.exposition());
  assert.equal(sample(body, 'meshctl_trace_spans_total{outcome="exported"}'), 130, 'read afresh, not added up');
});
