// The HTTP request metrics counted without prom-client on the request's turn
// must expose exactly what prom-client's own Counter and Histogram did: the
// same records go to both (the reference below is the sink's code before
// http-series.ts) and the expositions are compared, parsed and as text.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry, type Metric } from 'prom-client';
import { HttpSeriesTable } from '../../../src/agent/telemetry/http-series.ts';
import { DURATION_BUCKETS, HTTP_LABELS, httpLabels } from '../../../src/agent/telemetry/labels.ts';
import { MetricsSink } from '../../../src/agent/telemetry/metrics.ts';
import type { HttpRecord } from '../../../src/proxy/telemetry/records.ts';

const REQUESTS = 'meshctl_requests_total';
const DURATION = 'meshctl_request_duration_seconds';

/** What MetricsSink.http did with prom-client's Counter and Histogram. */
function reference(): { registry: Registry; http(record: HttpRecord): void } {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({ name: REQUESTS, help: 'requests', labelNames: HTTP_LABELS, registers });
  const duration = new Histogram({ name: DURATION, help: 'duration', labelNames: HTTP_LABELS, buckets: [...DURATION_BUCKETS], registers });
  return {
    registry,
    http(record) {
      const labels = httpLabels(record);
      requests.inc(labels);
      duration.observe(labels, record.durationMs / 1000);
    },
  };
}

function table(): { registry: Registry; http(record: HttpRecord): void } {
  const registry = new Registry();
  const t = new HttpSeriesTable(DURATION_BUCKETS);
  registry.registerMetric(t.counter(REQUESTS, 'requests') as unknown as Metric);
  registry.registerMetric(t.histogram(DURATION, 'duration') as unknown as Metric);
  return { registry, http: (record) => t.record(record) };
}

const record = (change: Partial<HttpRecord>): HttpRecord => ({ direction: 'outbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/', status: 200, mtls: true, startedAt: 0, durationMs: 3, requestBytes: 0, responseBytes: 2, ...change });

/** Every bucket's upper edge exactly (le is inclusive), just above it, far above the last, zero and a clock step back. */
const DURATIONS_MS = [...DURATION_BUCKETS.flatMap((b) => [b * 1000, b * 1000 + 0.0001]), 0, -2, 60_001, 3_600_000, 0.37, 12.5];

/** A mix whose series first appear interleaved (first-seen order is the exposition's order), with every label rule exercised. */
function mix(): HttpRecord[] {
  const out: HttpRecord[] = [];
  const variants: Array<Partial<HttpRecord>> = [
    {},
    { direction: 'inbound' },
    { route: 'canary' },
    { route: '' },
    { status: 503 },
    { status: 0 },
    { status: 99 },
    { status: 600 },
    { status: 200.5 },
    { mtls: false, source: '' },
    { destination: 'db' },
    { source: 'we"ird\\svc\nname' },
    { direction: 'inbound', route: 'canary', status: 404, mtls: false },
  ];
  for (let i = 0; i < 400; i++) out.push(record({ ...(variants[(i * 7) % variants.length] as Partial<HttpRecord>), durationMs: DURATIONS_MS[i % DURATIONS_MS.length] as number }));
  return out;
}

/** Sample lines → value, and HELP/TYPE lines, keyed by their text: order-insensitive. */
function parse(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const at = line.startsWith('#') ? line.indexOf(' ', line.indexOf(' ', 2) + 1) : line.lastIndexOf(' ');
    const key = line.slice(0, at);
    assert.ok(!out.has(key), `one line per series: ${key}`);
    out.set(key, line.slice(at + 1));
  }
  return out;
}

async function assertSameExposition(oldOne: Registry, newOne: Registry): Promise<void> {
  const [before, after] = [await oldOne.metrics(), await newOne.metrics()];
  assert.deepEqual(parse(after), parse(before));
  assert.equal(after, before, 'byte for byte, series in the same order');
  assert.deepEqual(await newOne.getMetricsAsJSON(), await oldOne.getMetricsAsJSON());
}

test('the same records give the same exposition as prom-client: labels, le edges (inclusive), +Inf, _sum and _count', async () => {
  const [oldOne, newOne] = [reference(), table()];
  for (const r of mix()) {
    oldOne.http(r);
    newOne.http(r);
  }
  await assertSameExposition(oldOne.registry, newOne.registry);
  const text = await newOne.registry.metrics();
  // The edges themselves, so a comparison that passed on both being wrong the same way would still fail here.
  const series = 'direction="outbound",source_service="web",destination_service="api",route="",response_code="200",mtls="true"';
  const line = (le: string) => text.split('\n').find((l) => l.startsWith(`${DURATION}_bucket{le="${le}",${series}} `));
  assert.ok(line('0.001') && line('60') && line('+Inf'));
  assert.ok(Number(line('+Inf')?.split(' ')[1]) > Number(line('60')?.split(' ')[1]), 'values above the last bucket are only in +Inf');
  assert.match(text, /source_service="we\\"ird\\\\svc\\nname"/);
});

test('a duration that is not a number fails as prom-client did: the request counted, the histogram untouched', async () => {
  const [oldOne, newOne] = [reference(), table()];
  // The first record of its series fails: the histogram lists that series after one that came later.
  const records = [record({ destination: 'x', durationMs: Number.NaN }), record({ destination: 'y' }), record({ destination: 'x', durationMs: Number.POSITIVE_INFINITY }), record({ destination: 'x' })];
  let failed = 0;
  for (const r of records) {
    let expected = '';
    try {
      oldOne.http(r);
    } catch (error) {
      expected = (error as Error).message;
    }
    if (expected) failed++;
    if (expected) assert.throws(() => newOne.http(r), { name: 'TypeError', message: expected });
    else newOne.http(r);
  }
  assert.equal(failed, 2, 'prom-client refused NaN and Infinity');
  await assertSameExposition(oldOne.registry, newOne.registry);
});

test('resetMetrics empties both, and series come back in the order they are seen again', async () => {
  const [oldOne, newOne] = [reference(), table()];
  for (const r of mix().slice(0, 60)) {
    oldOne.http(r);
    newOne.http(r);
  }
  oldOne.registry.resetMetrics();
  newOne.registry.resetMetrics();
  await assertSameExposition(oldOne.registry, newOne.registry);
  for (const r of mix().reverse().slice(0, 90)) {
    oldOne.http(r);
    newOne.http(r);
  }
  await assertSameExposition(oldOne.registry, newOne.registry);
});

test("the agent's sink exposes these two metrics as prom-client did", async () => {
  const oldOne = reference();
  const sink = new MetricsSink({ certificates: () => [], configVersion: () => 0 });
  for (const r of mix()) {
    oldOne.http(r);
    sink.http(r);
  }
  const help = (text: string) => text.replace(/^# HELP (\S+) .*$/m, '# HELP $1 …');
  for (const name of [REQUESTS, DURATION]) {
    assert.equal(help(await sink.registry.getSingleMetricAsString(name)), help(await oldOne.registry.getSingleMetricAsString(name)));
  }
  const text = (await sink.exposition()).body;
  assert.ok(text.indexOf(`# TYPE ${REQUESTS} counter`) < text.indexOf(`# TYPE ${DURATION} histogram`));
  assert.ok(text.indexOf(`# TYPE ${DURATION} histogram`) < text.indexOf('# TYPE meshctl_tcp_connections_opened_total counter'), 'listed where the Counter and Histogram were');
});
