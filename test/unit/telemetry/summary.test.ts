import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SummarySink } from '../../../src/agent/telemetry/summary.ts';
import { reportPhaseMs, TelemetryReporter } from '../../../src/agent/telemetry/reporter.ts';
import { REPORT_LIMITS, type TelemetryReport } from '../../../src/config/telemetry-report.ts';
import type { HttpRecord } from '../../../src/proxy/telemetry/records.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const rec = (over: Partial<HttpRecord> = {}): HttpRecord => ({
  direction: 'inbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/x', status: 200, mtls: true, startedAt: 0, durationMs: 4, requestBytes: 0, responseBytes: 0, ...over,
});

test('counts requests and successes per (direction, source, destination): success is < 500 and no mesh failure', () => {
  const sink = new SummarySink(new FakeClock());
  sink.http(rec());
  sink.http(rec({ status: 404 }));
  sink.http(rec({ status: 500 }));
  sink.http(rec({ status: 403, failure: { cause: 'intention_denied', hop: 'inbound', service: 'api' } }));
  sink.http(rec({ direction: 'outbound', status: 503, failure: { cause: 'no_healthy_endpoints', hop: 'outbound', service: 'api' } }));
  const delta = sink.take();
  const inbound = delta.series.get('inbound\u0000web\u0000api')!;
  assert.deepEqual([inbound.requests, inbound.successes, inbound.latency.count], [4, 2, 4]);
  const outbound = delta.series.get('outbound\u0000web\u0000api')!;
  assert.deepEqual([outbound.requests, outbound.successes], [1, 0]);
  assert.deepEqual(delta.errors.map((e) => `${e.direction} ${e.cause} ${e.status}`), ['inbound upstream_5xx 500', 'inbound intention_denied 403', 'outbound no_healthy_endpoints 503']);
  assert.equal(sink.take().series.size, 0, 'take starts a new delta');
});

test('an app 5xx is reported once, by the inbound proxy; a relayed mesh error by the hop that made it', () => {
  const sink = new SummarySink(new FakeClock());
  sink.http(rec({ direction: 'outbound', status: 500 }));
  sink.http(rec({ direction: 'outbound', status: 502, failure: { cause: 'local_app_unreachable', hop: 'inbound', service: 'api' } }));
  assert.equal(sink.take().errors.length, 0);
});

test('TCP: opened, closed, bytes each way and the open gauge, which take() does not reset', () => {
  const sink = new SummarySink(new FakeClock());
  sink.tcpOpened('inbound', 'web', 'db');
  sink.tcpOpened('inbound', 'web', 'db');
  sink.tcp({ direction: 'inbound', source: 'web', destination: 'db', mtls: true, startedAt: 0, durationMs: 10, bytesSent: 100, bytesReceived: 2000 });
  const s = sink.take().series.get('inbound\u0000web\u0000db')!;
  assert.deepEqual([s.tcpOpened, s.tcpClosed, s.bytesIn, s.bytesOut], [2, 1, 100, 2000]);
  assert.deepEqual(sink.openConnections(), [{ direction: 'inbound', source: 'web', destination: 'db', open: 1 }]);
  sink.take();
  assert.equal(sink.openConnections()[0]?.open, 1);
});

test('the error ring keeps the newest errors only', () => {
  const sink = new SummarySink(new FakeClock());
  for (let i = 0; i < REPORT_LIMITS.errors + 20; i++) sink.http(rec({ status: 500, path: `/${i}` }));
  const errors = sink.take().errors;
  assert.equal(errors.length, REPORT_LIMITS.errors);
  assert.equal(errors.at(-1)?.path, `/${REPORT_LIMITS.errors + 19}`);
  assert.equal(errors[0]?.path, '/20');
});

function reporterWith(send: (r: TelemetryReport) => Promise<void>) {
  const clock = new FakeClock();
  const summary = new SummarySink(clock);
  const reporter = new TelemetryReporter({ node: 'host-1', summary, clock, send });
  return { clock, summary, reporter };
}

/** Lets the reporter's promise chain run after a timer fired. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('every second the delta goes out; a failed report keeps its counts for the next one', async () => {
  const sent: TelemetryReport[] = [];
  let fail = true;
  const { clock, summary, reporter } = reporterWith(async (r) => {
    if (fail) throw new Error('server unreachable');
    sent.push(r);
  });
  reporter.start();
  for (let i = 0; i < 5; i++) summary.http(rec());
  clock.advance(1000);
  await settle();
  assert.equal(sent.length, 0);
  assert.equal(reporter.stats.failed, 1);
  for (let i = 0; i < 3; i++) summary.http(rec({ status: 503 }));
  fail = false;
  clock.advance(1000);
  await settle();
  assert.equal(sent.length, 1);
  const [series] = sent[0]!.series;
  assert.deepEqual([series?.requests, series?.successes], [8, 5], 'the failed report\'s 5 and the 3 since');
  assert.equal(sent[0]!.errors.length, 3);
  assert.equal(sent[0]!.node, 'host-1');
  reporter.stop();
});

test('a quiet agent sends a heartbeat every 10 s, not every second', async () => {
  const sent: TelemetryReport[] = [];
  const { clock, reporter } = reporterWith(async (r) => void sent.push(r));
  reporter.start();
  for (let s = 0; s < 25; s++) {
    clock.advance(1000);
    await settle();
  }
  assert.equal(sent.length, 3, 'at 1 s (first), 11 s and 21 s');
  reporter.stop();
});

test('one report in flight at a time: a slow server does not pile them up', async () => {
  let release: () => void = () => {};
  let calls = 0;
  const { clock, summary, reporter } = reporterWith(() => {
    calls++;
    return new Promise<void>((resolve) => (release = resolve));
  });
  summary.http(rec());
  const first = reporter.tick();
  summary.http(rec());
  clock.advance(1000);
  await reporter.tick();
  assert.equal(calls, 1);
  release();
  await first;
  const second = reporter.tick();
  assert.equal(calls, 2, 'the second request goes once the first is done');
  release();
  await second;
});

/** Fills the series table with REPORT_LIMITS.series other series. */
function fill(sink: SummarySink): void {
  for (let i = 0; i < REPORT_LIMITS.series; i++) sink.http(rec({ source: `filler${i}` }));
}

test('a TCP close that finds the series table full still closes its open gauge', () => {
  const sink = new SummarySink(new FakeClock());
  sink.tcpOpened('inbound', 'web', 'db');
  sink.take();
  fill(sink);
  sink.tcp({ direction: 'inbound', source: 'web', destination: 'db', mtls: true, startedAt: 0, durationMs: 10, bytesSent: 1, bytesReceived: 1 });
  assert.deepEqual(sink.openConnections(), [], 'closed, though its counts found no room');
  // Opened while the table is full: the gauge counts it all the same, and its close takes it off.
  sink.tcpOpened('inbound', 'web', 'cache');
  assert.deepEqual(sink.openConnections(), [{ direction: 'inbound', source: 'web', destination: 'cache', open: 1 }]);
  sink.tcp({ direction: 'inbound', source: 'web', destination: 'cache', mtls: true, startedAt: 0, durationMs: 10, bytesSent: 1, bytesReceived: 1 });
  assert.deepEqual(sink.openConnections(), []);
  assert.equal(sink.droppedRecords, 3, 'the counts that found no room are counted as dropped');
});

test('a report carries at most REPORT_LIMITS.series open gauges, the fullest', () => {
  const sink = new SummarySink(new FakeClock());
  for (let i = 0; i < REPORT_LIMITS.series + 5; i++) sink.tcpOpened('inbound', `c${i}`, 'db');
  sink.tcpOpened('inbound', 'c7', 'db');
  const open = sink.openConnections();
  assert.equal(open.length, REPORT_LIMITS.series);
  assert.deepEqual(open[0], { direction: 'inbound', source: 'c7', destination: 'db', open: 2 });
});

test('the errors keep the path without its query or fragment: read-only tokens read them', () => {
  const sink = new SummarySink(new FakeClock());
  for (const path of ['/items?token=s3cret&user=a@b.c', '/items#frag', '/items?', '/items']) sink.http(rec({ status: 500, path }));
  assert.deepEqual(sink.take().errors.map((e) => e.path), ['/items', '/items', '/items', '/items']);
});

test('flush on stop: what gathered since the last report goes out, after the one in flight', async () => {
  const sent: TelemetryReport[] = [];
  let release: () => void = () => {};
  const { summary, reporter } = reporterWith((r) => {
    sent.push(r);
    return sent.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
  });
  summary.http(rec());
  const first = reporter.tick();
  summary.http(rec());
  summary.http(rec());
  const flushed = reporter.flush();
  await settle();
  assert.equal(sent.length, 1, 'the flush waits for the report in flight');
  release();
  await Promise.all([first, flushed]);
  assert.deepEqual(sent.map((r) => r.series[0]?.requests), [1, 2]);
});

test('flush never holds the stop longer than its timeout, whatever the server does', async () => {
  const { clock, summary, reporter } = reporterWith(() => new Promise<void>(() => {}));
  summary.http(rec());
  let done = false;
  const flushed = reporter.flush(1000).then(() => (done = true));
  await settle();
  clock.advance(999);
  await settle();
  assert.equal(done, false);
  clock.advance(1);
  await flushed;
  assert.equal(done, true);
});

test('reports go out at the agent’s phase of every second, however long each send takes: no drift', async () => {
  const sentAt: number[] = [];
  const clock = new FakeClock(1_700_000_000_000);
  const summary = new SummarySink(clock);
  // Each send takes 40 ms of the clock: with a period of a second after the send, the phase would slide 40 ms a report.
  const reporter = new TelemetryReporter({ node: 'host-1', summary, clock, phaseMs: 250, send: (_r) => {
    sentAt.push(clock.now());
    return new Promise<void>((resolve) => clock.after(40, resolve));
  } });
  reporter.start();
  for (let step = 0; step < 8 * 20; step++) {
    summary.http(rec());
    clock.advance(50);
    await settle();
  }
  reporter.stop();
  assert.equal(sentAt.length, 8, `one report a second: ${sentAt.map((t) => t % 10_000)}`);
  assert.deepEqual(sentAt.map((t) => t % 1000), Array(8).fill(250));
});

test('a node’s phase is fixed by its name and spread over the second', () => {
  assert.equal(reportPhaseMs('host-1'), 741, 'FNV-1a of the name, mod 1000: the same at every start');
  const phases = Array.from({ length: 200 }, (_, i) => reportPhaseMs(`node-${i}`));
  assert.ok(phases.every((p) => Number.isInteger(p) && p >= 0 && p < 1000));
  const quarters = [0, 1, 2, 3].map((q) => phases.filter((p) => Math.floor(p / 250) === q).length);
  assert.ok(quarters.every((n) => n >= 30), `each quarter of the second gets some of 200 nodes: ${quarters}`);
});

test('a timer that fires a millisecond early makes no extra wake-up: the next one is a second after the last was due', async () => {
  const real = new FakeClock(1_700_000_000_000);
  const firedAt: number[] = [];
  // Every timer fires 1 ms before it is due, as Node's may by Date.now().
  const early = { now: () => real.now(), after: (ms: number, fn: () => void) => real.after(Math.max(0, ms - 1), () => (firedAt.push(real.now() % 10_000), fn())) };
  const reporter = new TelemetryReporter({ node: 'host-1', summary: new SummarySink(real), clock: early, phaseMs: 250, send: async () => {} });
  reporter.start();
  // A quiet agent: its ticks end at once, in the millisecond they fired in.
  for (let ms = 0; ms < 3000; ms++) {
    real.advance(1);
    await settle();
  }
  reporter.stop();
  assert.deepEqual(firedAt, [249, 1249, 2249], 'one wake-up a second, none a millisecond after each');
});
