import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from '../../../src/lib/latency-histogram.ts';
import type { ReportedSeries } from '../../../src/config/telemetry-report.ts';
import { seriesKey } from '../../../src/config/telemetry-report.ts';
import { TelemetryWindow, RETENTION_SECONDS, MAX_SERIES_PER_NODE } from '../../../src/control/telemetry/window.ts';
import { buildStats } from '../../../src/control/telemetry/stats.ts';

const T0 = 1_700_000_000_000;

function series(direction: 'inbound' | 'outbound', source: string, destination: string, requests: number, successes: number, latencyMs = 5): ReportedSeries {
  const h = new LatencyHistogram();
  for (let i = 0; i < requests; i++) h.record(latencyMs);
  return { direction, source, destination, requests, successes, latency: h.toSparse(), tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 };
}

/** One report a second for `seconds` seconds from `from`, each with `perSecond` requests. */
function feed(w: TelemetryWindow, from: number, seconds: number, perSecond: number, failEvery = 0): void {
  for (let s = 0; s < seconds; s++) {
    const failures = failEvery ? Math.floor(perSecond / failEvery) : 0;
    w.ingest([series('inbound', 'web', 'api', perSecond, perSecond - failures), series('outbound', 'web', 'api', perSecond, perSecond - failures)], from + s * 1000 + 500, 'host-1');
  }
}

test('a window merges exactly the buckets of its last N whole seconds, the current one left out', () => {
  const w = new TelemetryWindow(T0);
  feed(w, T0, 100, 10);
  // In second 100 now: reports still arrive in it, so the windows end with second 99.
  const now = T0 + 100_100;
  const read = (seconds: number) => w.read(seconds, now).series.find((s) => s.direction === 'inbound')?.requests;
  assert.equal(read(10), 100, '10 s: 10 reports of 10');
  assert.equal(read(60), 600);
  assert.equal(read(600), 1000, '10 m: everything since the server started');
  assert.equal(w.read(600, now).coveredSeconds, 100, 'the server has been up 100 whole seconds: rps divides by that');
  w.ingest([series('inbound', 'web', 'api', 50, 50)], now, 'host-1');
  assert.equal(read(10), 100, 'what arrives in the current second waits for it to end');
  assert.equal(w.read(10, now + 1000).series.find((s) => s.direction === 'inbound')?.requests, 140, 'and then counts');
  assert.equal(w.read(10, now).coveredSeconds, 10);
});

test('buckets older than 10 minutes leave every window, also after a silence', () => {
  const w = new TelemetryWindow(T0);
  feed(w, T0, 5, 10);
  const later = T0 + (RETENTION_SECONDS + 5) * 1000;
  assert.equal(w.read(600, later).series.length, 0, 'nothing reported in the last 10 minutes');
  // A new report reuses a slot that held an old second: the old counts are gone, not added.
  w.ingest([series('inbound', 'web', 'api', 7, 7)], T0 + (RETENTION_SECONDS + 4) * 1000, 'host-1');
  assert.equal(w.read(600, later).series[0]?.requests, 7);
});

test('histograms merge across buckets: the window p99 sees the slow second', () => {
  const w = new TelemetryWindow(T0);
  for (let s = 0; s < 9; s++) w.ingest([series('inbound', 'web', 'api', 100, 100, 2)], T0 + s * 1000, 'host-1');
  w.ingest([series('inbound', 'web', 'api', 100, 100, 400)], T0 + 9000, 'host-1');
  const merged = w.read(10, T0 + 10_000).series[0]!;
  const p = merged.latency.percentiles()!;
  assert.ok(Math.abs(p.p50 - 2) / 2 < 0.03 && Math.abs(p.p99 - 400) / 400 < 0.03, JSON.stringify(p));
});

test('past the series cap, new series are dropped and their requests counted; known ones go on', () => {
  const w = new TelemetryWindow(T0, { maxSeries: 2 });
  w.ingest([series('inbound', 'a', 'api', 1, 1), series('inbound', 'b', 'api', 1, 1)], T0, 'host-1');
  w.ingest([series('inbound', 'c', 'api', 5, 5), series('inbound', 'a', 'api', 3, 3)], T0 + 1000, 'host-1');
  const read = w.read(10, T0 + 2000);
  assert.equal(read.series.length, 2);
  assert.equal(read.droppedRequests, 5);
  assert.equal(read.series.find((s) => s.source === 'a')?.requests, 4);
  // Ten minutes on, the old series free their places.
  w.ingest([series('inbound', 'c', 'api', 5, 5)], T0 + (RETENTION_SECONDS + 2) * 1000, 'host-1');
  assert.equal(w.read(10, T0 + (RETENTION_SECONDS + 3) * 1000).series[0]?.requests, 5);
});

test('stats: service rows from inbound, edges from outbound, every catalog service listed, idle ones with nulls', () => {
  const w = new TelemetryWindow(T0 - 600_000);
  feed(w, T0, 60, 14, 7);
  const now = T0 + 60_000;
  const answer = buildStats({
    window: '1m',
    read: w.read(60, now),
    open: new Map([[seriesKey({ direction: 'inbound', source: 'web', destination: 'api' }), 3]]),
    instances: new Map([['api', { healthy: 2, total: 3 }], ['web', { healthy: 1, total: 1 }]]),
    nowMs: now,
  });
  assert.equal(answer.windowSeconds, 60);
  assert.deepEqual(answer.services.map((s) => s.service), ['api', 'web']);
  const api = answer.services[0]!;
  assert.equal(api.requests, 840);
  assert.equal(api.rps, 14);
  assert.equal(api.successRate, 720 / 840, 'two of every 14 failed');
  assert.deepEqual(api.instances, { healthy: 2, total: 3 });
  assert.equal(api.tcp.open, 3);
  const web = answer.services[1]!;
  assert.deepEqual([web.requests, web.rps, web.successRate, web.latencyMs], [0, 0, null, null]);
  assert.equal(answer.edges.length, 1);
  assert.deepEqual([answer.edges[0]!.source, answer.edges[0]!.destination, answer.edges[0]!.requests], ['web', 'api', 840]);
  const filtered = buildStats({ window: '1m', read: w.read(60, now), open: new Map(), instances: new Map([['api', { healthy: 2, total: 3 }], ['web', { healthy: 1, total: 1 }]]), nowMs: now, service: 'web' });
  assert.deepEqual(filtered.services.map((s) => s.service), ['web']);
  assert.equal(filtered.edges.length, 1, 'web is the edge\'s source');
});

test('10 s and 1 m are exact whole seconds; 10 m is read in 10-second buckets, 591 to 600 s, and says which', () => {
  for (const intoBucket of [0, 1, 5, 9]) {
    const w = new TelemetryWindow(T0);
    // One request a second, every second, for 13 minutes: a window's count is the seconds it spans.
    for (let s = 0; s < 770 + intoBucket; s++) w.ingest([series('inbound', 'web', 'api', 1, 1)], T0 + s * 1000 + 500, 'host-1');
    const now = T0 + (770 + intoBucket) * 1000 + 100;
    const requests = (seconds: number) => w.read(seconds, now).series[0]?.requests;
    assert.equal(requests(10), 10, `10 s, ${intoBucket} s into a 10-second bucket`);
    assert.equal(requests(60), 60);
    const tenMinutes = w.read(600, now);
    const expected = intoBucket === 0 ? 600 : 590 + intoBucket;
    assert.equal(tenMinutes.coveredSeconds, expected, `the 10 m window ${intoBucket} s into a bucket`);
    assert.equal(tenMinutes.series[0]?.requests, expected, 'the counts are those of exactly the seconds covered: the rate stays right');
  }
});

test('a node holds at most its quota of series; the others still get theirs, within the global cap', () => {
  const w = new TelemetryWindow(T0, { maxSeries: 6, maxSeriesPerNode: 4 });
  const many = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => series('inbound', `${prefix}${i}`, 'api', 1, 1));
  w.ingest(many('bad', 10), T0, 'bad-host');
  w.ingest([...many('good', 2), series('inbound', 'bad0', 'api', 1, 1)], T0, 'good-host');
  const read = w.read(10, T0 + 1000);
  assert.deepEqual(read.series.map((s) => s.source).sort(), ['bad0', 'bad1', 'bad2', 'bad3', 'good0', 'good1']);
  assert.equal(read.series.find((s) => s.source === 'bad0')?.requests, 2, 'a series another node holds counts for a second node too');
  assert.equal(read.droppedRequests, 6, 'the bad node\'s 6 past its quota');
  // The table is now full (6): a third node's new series waits, a known one counts.
  w.ingest([series('inbound', 'new', 'api', 3, 3), series('inbound', 'good0', 'api', 1, 1)], T0 + 1000, 'third-host');
  const next = w.read(10, T0 + 2000);
  assert.equal(next.droppedRequests, 9);
  assert.equal(next.series.find((s) => s.source === 'good0')?.requests, 2);
});

test(`a node's quota (${MAX_SERIES_PER_NODE} by default) frees as its series go quiet for the retention`, () => {
  const w = new TelemetryWindow(T0);
  const batch = (offset: number) => Array.from({ length: MAX_SERIES_PER_NODE }, (_, i) => series('outbound', 'web', `svc${offset + i}`, 1, 1));
  w.ingest(batch(0), T0, 'host-1');
  w.ingest(batch(MAX_SERIES_PER_NODE), T0 + 1000, 'host-1');
  assert.equal(w.read(10, T0 + 2000).droppedRequests, MAX_SERIES_PER_NODE, 'a second batch of new series is over the quota');
  const later = T0 + (RETENTION_SECONDS + 1) * 1000;
  w.ingest(batch(MAX_SERIES_PER_NODE), later, 'host-1');
  const read = w.read(10, later + 1000);
  assert.equal(read.droppedRequests, 0);
  assert.equal(read.series.length, MAX_SERIES_PER_NODE);
});

test('a read is kept for the rest of its second: one merge however many readers; the next second reads afresh', () => {
  const w = new TelemetryWindow(T0);
  feed(w, T0, 20, 10);
  const now = T0 + 20_100;
  const first = w.read(60, now);
  w.ingest([series('inbound', 'web', 'api', 50, 50)], now + 200, 'host-1');
  assert.equal(w.read(60, now + 800), first, 'the same answer object, within the second');
  assert.equal(w.read(60, now + 1000).series.find((s) => s.direction === 'inbound')?.requests, 250, 'and the report of that second counts once it ends');
  // A clock stepped back lands a report in an already-read second: the kept read is dropped.
  w.ingest([series('inbound', 'web', 'api', 5, 5)], now - 5000, 'host-1');
  assert.equal(w.read(60, now + 1000).series.find((s) => s.direction === 'inbound')?.requests, 255);
});

test("a late report (ageMs) lands in the seconds its counts were taken in: the fine and coarse buckets while they last, dropped after", () => {
  const w = new TelemetryWindow(T0);
  const now = T0 + 700_500;
  const inbound = (seconds: number, at = now) => w.read(seconds, at).series.find((s) => s.direction === 'inbound')?.requests ?? 0;
  assert.equal(inbound(60), 0);
  // Read before it arrives: the read of this second is kept, and the late report must undo that.
  w.ingest([series('inbound', 'web', 'api', 5, 5)], now, 'host-1', 30_000);
  assert.deepEqual([inbound(10), inbound(60), inbound(600)], [0, 5, 5], '30 s old: in the minute, not in the last 10 s');
  w.ingest([series('inbound', 'web', 'api', 7, 7)], now, 'host-1', 3_000);
  assert.deepEqual([inbound(10), inbound(60), inbound(600)], [7, 12, 12], '3 s old: in the last 10 s');
  w.ingest([series('inbound', 'web', 'api', 11, 11)], now, 'host-1', 300_000);
  assert.deepEqual([inbound(60), inbound(600)], [12, 23], '5 minutes old: in the 10-second buckets only');
  w.ingest([series('inbound', 'web', 'api', 13, 13)], now, 'host-1', 599_000);
  assert.equal(inbound(600), 36, 'still within the 10 minutes');
  w.ingest([series('inbound', 'web', 'api', 17, 17)], now + 20_000, 'host-1', 620_000);
  assert.equal(w.read(600, now + 21_000).droppedRequests, 17, 'older than the window keeps: counted as dropped, at arrival');
  assert.equal(inbound(600, now + 21_000), 23, '21 s on, the 599 s old counts have left the 10 minutes, as any would');
});

test('after a restart, the agents\' backlog of the outage is divided by the time it covers, not by the seconds since the restart', () => {
  // The server restarted at R after a 15 s outage; agents send their backlog (10 req/s through it), then report live.
  const R = T0 + 1000_000;
  const w = new TelemetryWindow(R);
  for (let age = 15; age >= 1; age--) w.ingest([series('inbound', 'web', 'api', 10, 10)], R + 200, 'host-1', age * 1000);
  feed(w, R, 12, 10);
  const now = R + 12_100;
  const read = w.read(60, now);
  assert.equal(read.series[0]?.requests, 270);
  assert.equal(read.coveredSeconds, 27, '15 s of backlog and 12 s since the restart');
  assert.equal(read.series[0]!.requests / read.coveredSeconds, 10);
  // A late report older than the window reaches back no further than the window.
  assert.equal(w.read(10, now).coveredSeconds, 10);
});
