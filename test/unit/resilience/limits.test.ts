import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimits, type LimitKind } from '../../../src/proxy/resilience/limits.ts';

const limits = () => new ConcurrencyLimits({ maxConnections: 1, maxPendingRequests: 2, maxRequests: 3 });

test('each kind is refused past its own limit, and the others are untouched', () => {
  const table: Array<[LimitKind, max: number]> = [
    ['connection', 1],
    ['pending', 2],
    ['request', 3],
  ];
  for (const [kind, max] of table) {
    const l = limits();
    const taken = Array.from({ length: max + 2 }, () => l.tryAcquire(kind));
    assert.deepEqual(taken, [...new Array(max).fill(true), false, false], kind);
    assert.equal(l.snapshot().active[kind], max);
    assert.equal(l.snapshot().overflows[kind], 2);
    for (const other of ['connection', 'pending', 'request'] as const) if (other !== kind) assert.equal(l.tryAcquire(other), true, `${other} after ${kind} is full`);
  }
});

test('an overflow names the limit as Envoy does, for the 503 the proxy answers', () => {
  const l = limits();
  assert.deepEqual(
    (['connection', 'pending', 'request'] as const).map((k) => `${l.overflowReason(k)}=${l.limit(k)}`),
    ['max_connections=1', 'max_pending_requests=2', 'max_requests=3'],
  );
});

test('a release frees a slot', () => {
  const l = limits();
  for (let i = 0; i < 3; i++) l.tryAcquire('request');
  assert.equal(l.tryAcquire('request'), false);
  l.release('request');
  assert.equal(l.tryAcquire('request'), true);
});

test('releases with nothing held are clamped at zero and counted, never widening the limit', () => {
  const l = limits();
  l.release('connection');
  l.release('connection');
  assert.equal(l.snapshot().active.connection, 0);
  assert.equal(l.snapshot().overReleases, 2);
  assert.deepEqual([l.tryAcquire('connection'), l.tryAcquire('connection')], [true, false]);
});

test('a snapshot is a copy', () => {
  const l = limits();
  const before = l.snapshot();
  l.tryAcquire('request');
  assert.equal(before.active.request, 0);
  assert.deepEqual(l.snapshot(), {
    active: { connection: 0, pending: 0, request: 1 },
    max: { connection: 1, pending: 2, request: 3 },
    overflows: { connection: 0, pending: 0, request: 0 },
    overReleases: 0,
  });
});

test('a limit of 0 refuses everything; bad limits are refused with their name', () => {
  const closed = new ConcurrencyLimits({ maxConnections: 0, maxPendingRequests: 0, maxRequests: 0 });
  assert.equal(closed.tryAcquire('request'), false);
  assert.throws(() => new ConcurrencyLimits({ maxConnections: 1, maxPendingRequests: -1, maxRequests: 1 }), /max_pending_requests must be a whole number, 0 or more, got -1/);
  assert.throws(() => new ConcurrencyLimits({ maxConnections: 1.5, maxPendingRequests: 1, maxRequests: 1 }), /max_connections/);
  assert.throws(() => new ConcurrencyLimits({ maxConnections: 1, maxPendingRequests: 1, maxRequests: Number.POSITIVE_INFINITY }), /max_requests/);
});
