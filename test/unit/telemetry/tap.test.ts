// Tap's decisions, on an injected clock: what a filter accepts, what the
// agent's sink keeps and drops, how the server fans out and bounds, and how
// the stream writes limits and drops.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { eventOf, TapSink, TAP_QUEUE_PER_SESSION } from '../../../src/agent/telemetry/tap.ts';
import { formatLatency, formatTapLine } from '../../../src/cli/tap-line.ts';
import { parseTapFilter, TAP_CUT_MARK, TAP_PATH_CHARS, TAP_TEXT_CHARS, tapMatches, type TapEvent, type TapFilter } from '../../../src/config/tap.ts';
import { sanitizeTapEvent } from '../../../src/control/telemetry/tap-event.ts';
import { TapHub } from '../../../src/control/telemetry/tap-hub.ts';
import { TapStream } from '../../../src/control/telemetry/tap-stream.ts';
import { MeshError } from '../../../src/lib/errors.ts';
import type { HttpRecord } from '../../../src/proxy/telemetry/records.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const record = (over: Partial<HttpRecord> = {}): HttpRecord => ({
  direction: 'outbound', protocol: 'http', source: 'frontend', destination: 'api', endpoint: 'api-1', method: 'GET', path: '/users/1',
  status: 200, mtls: true, startedAt: 1_700_000_000_000, durationMs: 3.21, requestBytes: 0, responseBytes: 10, requestId: 'r-1', ...over,
});
const filter = (over: Partial<TapFilter> = {}): TapFilter => ({ service: 'api', pathPrefix: '/users', method: 'GET', ...over });

test('a filter is refused with every reason at once, and a method is taken in any case', () => {
  assert.deepEqual(parseTapFilter({ service: 'api', pathPrefix: '/users', method: 'get' }), { filter: { service: 'api', pathPrefix: '/users', method: 'GET' } });
  assert.deepEqual(parseTapFilter({ service: 'api' }), { filter: { service: 'api', pathPrefix: '', method: '' } });
  const bad = parseTapFilter({ service: '', pathPrefix: 'users', method: 'G E T' });
  assert.ok('errors' in bad);
  assert.equal(bad.errors.length, 3, bad.errors.join('\n'));
  assert.match(bad.errors.join('\n'), /service to tap is required[\s\S]*must start with '\/'[\s\S]*not an HTTP method/);
});

test('a filter matches the destination, the method and the path prefix, nothing else', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['api', 'GET', '/users', true],
    ['api', 'GET', '/users/7?x=1', true],
    ['api', 'POST', '/users', false],
    ['api', 'GET', '/other', false],
    ['web', 'GET', '/users', false],
  ];
  for (const [destination, method, path, want] of cases) assert.equal(tapMatches(filter(), destination, method, path), want, `${destination} ${method} ${path}`);
  assert.equal(tapMatches(filter({ pathPrefix: '', method: '' }), 'api', 'DELETE', '/anything'), true);
});

test('with no session the sink keeps nothing and counts nothing', () => {
  const sink = new TapSink({ clock: new FakeClock() });
  for (let i = 0; i < 100; i++) sink.http(record());
  assert.equal(sink.isActive, false);
  assert.equal(sink.drain('host-1'), undefined);
  assert.deepEqual(sink.counters, { sessions: 0, matched: 0, sent: 0, dropped: 0 });
});

test('the sink keeps matching requests from both stages, with their direction and ids', () => {
  const sink = new TapSink({ clock: new FakeClock() });
  sink.setSessions([{ id: 's1', ...filter() }]);
  sink.http(record({ direction: 'outbound', requestId: 'a' }));
  sink.http(record({ direction: 'inbound', requestId: 'a', endpoint: 'api-2', traceId: 't1' }));
  sink.http(record({ method: 'POST', requestId: 'b' }));
  sink.http(record({ path: '/other', requestId: 'c' }));
  sink.http(record({ destination: 'web', requestId: 'd' }));
  const batch = sink.drain('host-1');
  assert.ok(batch);
  assert.equal(batch.node, 'host-1');
  const [only] = batch.sessions;
  assert.equal(batch.sessions.length, 1);
  assert.deepEqual(only?.events.map((e) => [e.direction, e.requestId, e.endpoint]), [['outbound', 'a', 'api-1'], ['inbound', 'a', 'api-2']]);
  assert.equal(only?.events[1]?.traceId, 't1');
  assert.equal(only?.events[0]?.time, '2023-11-14T22:13:20.000Z');
  assert.equal(sink.drain('host-1'), undefined, 'a drain empties the queues');
});

test('the sink samples at most perSecond a second per session and says how many it left out', () => {
  const clock = new FakeClock(1_700_000_000_000);
  const sink = new TapSink({ clock, perSecond: 100 });
  sink.setSessions([{ id: 's1', ...filter() }, { id: 's2', ...filter({ pathPrefix: '', method: '' }) }]);
  for (let i = 0; i < 150; i++) sink.http(record());
  const first = sink.drain('h');
  assert.deepEqual(first?.sessions.map((s) => [s.id, s.events.length, s.dropped]), [['s1', 100, 50], ['s2', 100, 50]]);
  clock.advance(1000);
  for (let i = 0; i < 30; i++) sink.http(record());
  assert.deepEqual(sink.drain('h')?.sessions.map((s) => [s.events.length, s.dropped]), [[30, 0], [30, 0]], 'a new second, a new budget');
  assert.deepEqual(sink.counters, { sessions: 2, matched: 360, sent: 260, dropped: 100 });
});

test("the sink's budget holds over any second, not per calendar second: a burst across a second's edge gets no second helping", () => {
  const clock = new FakeClock(1_700_000_000_500);
  const sink = new TapSink({ clock, perSecond: 100 });
  sink.setSessions([{ id: 's1', ...filter() }]);
  clock.advance(499);
  for (let i = 0; i < 100; i++) sink.http(record());
  clock.advance(2);
  for (let i = 0; i < 100; i++) sink.http(record());
  const [s] = sink.drain('h')?.sessions ?? [];
  assert.deepEqual([s?.events.length, s?.dropped], [100, 100], '2 ms refill 0.2 of an event at 100/s');
  clock.advance(500);
  for (let i = 0; i < 100; i++) sink.http(record());
  assert.equal(sink.drain('h')?.sessions[0]?.events.length, 50, 'half a second buys half the budget');
});

test('an undrained queue is bounded: past it requests count as dropped', () => {
  const clock = new FakeClock();
  const sink = new TapSink({ clock, perSecond: 1_000_000 });
  sink.setSessions([{ id: 's1', ...filter() }]);
  for (let i = 0; i < TAP_QUEUE_PER_SESSION + 7; i++) sink.http(record());
  const [s] = sink.drain('h')?.sessions ?? [];
  assert.equal(s?.events.length, TAP_QUEUE_PER_SESSION);
  assert.equal(s?.dropped, 7);
});

test('a session that stays keeps its queue; one that ends takes its queue with it', () => {
  const sink = new TapSink({ clock: new FakeClock() });
  sink.setSessions([{ id: 's1', ...filter() }, { id: 's2', ...filter() }]);
  sink.http(record());
  sink.setSessions([{ id: 's2', ...filter() }]);
  assert.deepEqual(sink.drain('h')?.sessions.map((s) => [s.id, s.events.length]), [['s2', 1]]);
  sink.setSessions([]);
  assert.equal(sink.isActive, false);
});

class Collector {
  events: TapEvent[] = [];
  drops = 0;
  listener = { events: (e: TapEvent[]) => this.events.push(...e), dropped: (n: number) => (this.drops += n) };
}

const posted = (over: Partial<TapEvent> = {}): TapEvent => ({ time: 't', direction: 'inbound', source: 'frontend', destination: 'api', method: 'GET', path: '/users', status: 200, latencyMs: 1, endpoint: 'api-1', requestId: 'r', node: 'spoofed', ...over });

test('the hub publishes opens and closes to waiting agents at once, and bounds the sessions', async () => {
  const clock = new FakeClock();
  const hub = new TapHub({ clock, maxSessions: 2 });
  const start = hub.index;
  let woke = false;
  const waiting = hub.waitForChange(start, 60_000, new AbortController().signal).then(() => (woke = true));
  const a = hub.open(filter(), new Collector().listener);
  await waiting;
  assert.equal(woke, true);
  assert.deepEqual(hub.list().map((s) => s.id), [a.id]);
  hub.open(filter(), new Collector().listener);
  assert.throws(() => hub.open(filter(), new Collector().listener), (e: unknown) => e instanceof MeshError && e.code === 'MESH_E_TOO_MANY');
  const index = hub.index;
  const closing = hub.waitForChange(index, 60_000, new AbortController().signal);
  hub.close(a.id);
  await closing;
  assert.equal(hub.index, index + 1);
  assert.equal(hub.list().length, 1);
});

test('a wait with an index from another server life answers at once; one that runs out answers too', async () => {
  const clock = new FakeClock();
  const hub = new TapHub({ clock });
  await hub.waitForChange(hub.index + 40, 60_000, new AbortController().signal);
  let done = false;
  const wait = hub.waitForChange(hub.index, 1000, new AbortController().signal).then(() => (done = true));
  clock.advance(999);
  await Promise.resolve();
  assert.equal(done, false);
  clock.advance(1);
  await wait;
});

test('the hub passes on only matching, well-formed events, stamped with the real node, within the per-node budget', () => {
  const clock = new FakeClock();
  const hub = new TapHub({ clock, perSecond: 3 });
  const c = new Collector();
  const s = hub.open(filter(), c.listener);
  const runsApi = new Set(['api']);
  hub.deliver('host-2', runsApi, [
    { id: s.id, dropped: 4, events: [posted({ requestId: '1' }), posted({ method: 'POST' }), posted({ path: '/other' }), { junk: true } as never, posted({ requestId: '2', status: 'x' as never }), posted({ requestId: '3' }), posted({ requestId: '4' }), posted({ requestId: '5' })] },
    { id: 'gone', dropped: 0, events: [posted()] },
  ]);
  assert.deepEqual(c.events.map((e) => [e.requestId, e.node]), [['1', 'host-2'], ['3', 'host-2'], ['4', 'host-2']]);
  assert.equal(c.drops, 4 + 2 + 1, "the agent's drops, the two malformed events and the one over the server's budget");
  hub.deliver('host-3', runsApi, [{ id: s.id, dropped: 0, events: [posted({ requestId: '6' })] }]);
  assert.equal(c.events.at(-1)?.requestId, '6', 'each node has its own budget');
  assert.deepEqual(hub.counters, { sessionsOpened: 1, batches: 2, eventsReceived: 10, eventsDelivered: 4, eventsDropped: 7, eventsRefused: 0 });
});

test("a node's events count only for the side its proxies see: inbound to a service it runs, outbound from one", () => {
  const hub = new TapHub({ clock: new FakeClock() });
  const c = new Collector();
  const s = hub.open(filter({ pathPrefix: '', method: '' }), c.listener);
  // host-2 runs web. It may say what web's outbound proxy saw of web → api; not what api's inbound proxy (host-1) saw, nor frontend's calls.
  hub.deliver('host-2', new Set(['web']), [
    { id: s.id, dropped: 0, events: [
      posted({ source: 'frontend', path: '/admin/delete-everything', requestId: 'forged-in' }),
      posted({ direction: 'outbound', source: 'frontend', requestId: 'forged-out' }),
      posted({ direction: 'outbound', source: 'web', requestId: 'own' }),
    ] },
  ]);
  assert.deepEqual(c.events.map((e) => [e.requestId, e.node]), [['own', 'host-2']]);
  assert.equal(c.drops, 0, 'forged events are not matching requests left out');
  assert.equal(hub.counters.eventsRefused, 2);
});

test('an agent on a node that runs no service is handed no session', () => {
  const hub = new TapHub({ clock: new FakeClock() });
  const s = hub.open(filter(), new Collector().listener);
  assert.deepEqual(hub.list(new Set()), []);
  assert.deepEqual(hub.list(new Set(['web'])).map((x) => x.id), [s.id], 'a caller of the tapped service sees it, for its outbound side');
});

test('one token holds at most perToken sessions, and the last slots are kept for management tokens', () => {
  const hub = new TapHub({ clock: new FakeClock(), maxSessions: 6, perToken: 2, reserved: 2 });
  const tooMany = (e: unknown) => e instanceof MeshError && e.code === 'MESH_E_TOO_MANY';
  const agent = (token: string) => ({ token, management: false });
  hub.open(filter(), new Collector().listener, agent('a'));
  hub.open(filter(), new Collector().listener, agent('a'));
  assert.throws(() => hub.open(filter(), new Collector().listener, agent('a')), (e: unknown) => tooMany(e) && /this token holds 2 tap sessions/.test((e as Error).message));
  hub.open(filter(), new Collector().listener, agent('b'));
  hub.open(filter(), new Collector().listener, agent('b'));
  assert.throws(() => hub.open(filter(), new Collector().listener, agent('c')), (e: unknown) => tooMany(e) && /kept for management tokens/.test((e as Error).message));
  const operator = { token: 'm', management: true };
  hub.open(filter(), new Collector().listener, operator);
  hub.open(filter(), new Collector().listener, operator);
  assert.equal(hub.list().length, 6);
  assert.throws(() => hub.open(filter(), new Collector().listener, { token: 'm2', management: true }), (e: unknown) => tooMany(e) && /the most the server allows/.test((e as Error).message));
});

test('long paths and request ids are cut and marked, at the agent and at the server, never left out', () => {
  const longPath = '/' + 'a'.repeat(5000);
  const longId = 'i'.repeat(1000);
  const event = eventOf(record({ path: longPath, requestId: longId, endpoint: 'e'.repeat(300) }));
  assert.equal(event.path.length, TAP_PATH_CHARS);
  assert.ok(event.path.endsWith(TAP_CUT_MARK) && longPath.startsWith(event.path.slice(0, -1)));
  assert.equal(event.requestId, 'i'.repeat(TAP_TEXT_CHARS - 1) + TAP_CUT_MARK);
  assert.equal(event.endpoint.length, TAP_TEXT_CHARS);
  // An older agent that sends them whole: the server cuts them the same way.
  const raw = { ...eventOf(record()), path: longPath, requestId: longId };
  const kept = sanitizeTapEvent(raw, 'host-1');
  assert.ok(kept);
  assert.deepEqual([kept.path, kept.requestId], [event.path, event.requestId]);
  assert.equal(sanitizeTapEvent({ ...raw, path: 42 }, 'host-1'), undefined, 'a path that is no text is still refused');
  // ...and delivered: the hub counts what it must refuse as dropped, so a hiding caller at least shows as a drop.
  const hub = new TapHub({ clock: new FakeClock() });
  const c = new Collector();
  const s = hub.open(filter({ pathPrefix: '', method: '' }), c.listener);
  hub.deliver('host-1', new Set(['frontend']), [{ id: s.id, dropped: 0, events: [raw, { ...raw, status: 'x' as never }] }]);
  assert.deepEqual(c.events.map((e) => e.path), [event.path]);
  assert.equal(c.drops, 1);
});

class FakeOut extends EventEmitter {
  lines: string[] = [];
  full = false;
  write(chunk: string): boolean {
    this.lines.push(chunk.trimEnd());
    return !this.full;
  }
}

test('the stream ends after limit events, once, and says how many were dropped', () => {
  let done = 0;
  const stream = new TapStream({ limit: 3, onDone: () => done++ });
  const out = new FakeOut();
  stream.events([posted({ requestId: 'early' })]);
  stream.attach(out);
  assert.deepEqual(out.lines, ['{"dropped":1}'], 'an event before the response was open is counted');
  stream.events(['1', '2', '3', '4'].map((id) => posted({ requestId: id })));
  stream.events([posted()]);
  assert.equal(done, 1);
  assert.deepEqual(out.lines.slice(1).map((l) => (JSON.parse(l) as TapEvent).requestId), ['1', '2', '3']);
});

test('a reader that falls behind loses events rather than the server buffering them, and is told', () => {
  const stream = new TapStream({ limit: 0, onDone: () => assert.fail('no limit') });
  const out = new FakeOut();
  stream.attach(out);
  out.full = true;
  stream.events([posted({ requestId: '1' })]);
  stream.events([posted({ requestId: '2' }) as TapEvent, posted({ requestId: '3' })]);
  stream.dropped(5);
  assert.equal(out.lines.length, 1);
  out.full = false;
  out.emit('drain');
  assert.deepEqual(out.lines.slice(1), ['{"dropped":7}']);
});

test('an event prints as one Linkerd-like line', () => {
  const line = formatTapLine({ time: 't', node: 'host-2', direction: 'inbound', source: 'frontend', destination: 'api', method: 'GET', path: '/users', status: 200, latencyMs: 3.04, endpoint: 'api-1', requestId: 'abc' });
  assert.equal(line, 'req id=abc proxy=inbound node=host-2 src=frontend dst=api endpoint=api-1 :method=GET :path=/users status=200 latency=3ms');
  assert.equal(formatTapLine({ time: 't', node: 'h', direction: 'outbound', source: '', destination: 'api', method: 'GET', path: '/', status: 503, latencyMs: 0.42, endpoint: '', requestId: '', cause: 'no_healthy_endpoints' }),
    'req id=- proxy=outbound node=h src=- dst=api endpoint=- :method=GET :path=/ status=503 latency=0.4ms mesh-error=no_healthy_endpoints');
  assert.deepEqual([0.04, 3.04, 9.96, 12.4].map(formatLatency), ['0ms', '3ms', '10ms', '12ms']);
});
