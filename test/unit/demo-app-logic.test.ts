// The sample app's decisions: header propagation, what each role does, the
// seeded failures, and the traffic generator's schedule.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combine, decide, dueRequests, forwardedHeaders } from '../../src/demo/app-logic.ts';
import { seededRandom } from '../../src/lib/seeded-random.ts';

test('a hop passes on W3C, B3 and the request id, and nothing else', () => {
  const incoming = {
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tracestate: 'vendor=1',
    b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
    'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
    'x-b3-spanid': 'e457b5a2e4d86bd1',
    'x-b3-sampled': '1',
    'x-request-id': 'abc-123',
    host: '127.0.0.1:8080',
    cookie: 'secret=1',
    'content-length': '0',
    'x-forwarded-client-cert': 'By=spiffe://…',
  };
  assert.deepEqual(forwardedHeaders(incoming), {
    traceparent: incoming.traceparent,
    tracestate: 'vendor=1',
    b3: incoming.b3,
    'x-b3-traceid': incoming['x-b3-traceid'],
    'x-b3-spanid': incoming['x-b3-spanid'],
    'x-b3-sampled': '1',
    'x-request-id': 'abc-123',
  });
  assert.deepEqual(forwardedHeaders({}), {});
});

test('each role: health answers; frontend calls api, api calls db; db answers', () => {
  const options = { errorRate: 0, random: () => 0.5 };
  assert.deepEqual(decide('frontend', '/', options), { kind: 'call', path: '/items' });
  assert.deepEqual(decide('api', '/items', { ...options, version: 'v2' }), { kind: 'call', path: '/query' });
  assert.deepEqual(decide('db', '/query', options), { kind: 'answer', status: 200, body: { service: 'db', rows: 3 } });
  assert.deepEqual(decide('api', '/health', { ...options, version: 'v1' }), { kind: 'answer', status: 200, body: { service: 'api', version: 'v1', healthy: true } });
});

test('db fails the seeded share of queries, the same ones on every run', () => {
  const run = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 10_000 }, () => (decide('db', '/query', { errorRate: 0.02, random }) as { status: number }).status);
  };
  const first = run(8);
  assert.deepEqual(run(8), first, 'the same seed fails the same queries');
  const failed = first.filter((s) => s === 500).length;
  assert.ok(failed > 150 && failed < 250, `${failed} of 10000 failed (2% is 200)`);
  assert.ok(first.every((s) => s === 200 || s === 500));
  const never = seededRandom(1);
  assert.ok(Array.from({ length: 1000 }, () => decide('db', '/query', { errorRate: 0, random: never })).every((d) => d.kind === 'answer' && d.status === 200));
});

test("a failed or unreachable downstream is a 500 (not a 502 the proxies would retry and hide); a good one is wrapped", () => {
  assert.deepEqual(combine('api', 'v1', { status: 200, body: { service: 'db' } }), { status: 200, body: { service: 'api', version: 'v1', downstream: { service: 'db' } } });
  assert.equal(combine('frontend', undefined, { status: 500, body: {} }).status, 500);
  assert.equal(combine('frontend', undefined, { status: 503, body: 'no healthy endpoints' }).status, 500);
  assert.match(String(combine('frontend', undefined, { status: 0, body: null }).body.error), /unreachable/);
});

test('the traffic schedule owes rate × elapsed requests, never negative, without drift', () => {
  assert.equal(dueRequests(0, 20, 0), 0);
  assert.equal(dueRequests(49, 20, 0), 0);
  assert.equal(dueRequests(50, 20, 0), 1);
  assert.equal(dueRequests(1000, 20, 5), 15);
  assert.equal(dueRequests(1000, 20, 25), 0);
  assert.equal(dueRequests(60_000, 20, 1199), 1);
  assert.equal(dueRequests(10, 1000, 0), 10);
});
