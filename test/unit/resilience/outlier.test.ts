import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimits } from '../../../src/proxy/resilience/limits.ts';
import { OutlierDetector } from '../../../src/proxy/resilience/outlier.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const fail = { kind: 'response', status: 503 } as const;
const ok = { kind: 'response', status: 200 } as const;

function detector(ids: string[], maxEjectionPercent = 10) {
  const clock = new FakeClock();
  const d = new OutlierDetector({ consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent, clock });
  d.setEndpoints(ids);
  return { clock, d };
}

test('five consecutive errors eject; four and a success do not', () => {
  const { d } = detector(['a', 'b', 'c']);
  for (let i = 0; i < 4; i++) d.record('a', fail);
  d.record('a', ok);
  for (let i = 0; i < 4; i++) d.record('a', fail);
  assert.deepEqual([...d.ejected()], []);
  d.record('a', { kind: 'connect-failure' });
  assert.deepEqual([...d.ejected()], ['a']);
});

test('ejection time grows with each ejection, and the endpoint returns when it ends', () => {
  const { clock, d } = detector(['a', 'b', 'c']);
  for (let i = 0; i < 5; i++) d.record('a', fail);
  clock.advance(29_999);
  assert.equal(d.ejected().has('a'), true);
  clock.advance(2);
  assert.equal(d.ejected().has('a'), false, 'back after 30 s');
  for (let i = 0; i < 5; i++) d.record('a', fail);
  clock.advance(59_999);
  assert.equal(d.ejected().has('a'), true, 'the second ejection lasts 60 s');
});

test('at most 10% are ejected, but at least one; panic mode below two healthy', () => {
  const three = detector(['a', 'b', 'c']);
  for (const id of ['a', 'b']) for (let i = 0; i < 5; i++) three.d.record(id, fail);
  assert.equal(three.d.ejected().size, 1, 'one of three, not two');
  assert.equal(three.d.panic(), false);
  const two = detector(['a', 'b']);
  for (let i = 0; i < 5; i++) two.d.record('a', fail);
  assert.equal(two.d.ejected().size, 1);
  assert.equal(two.d.panic(), true, 'one left of two: panic');
  assert.deepEqual([...two.d.effectiveExclusions()], [], 'panic spreads load over all');
  const twenty = detector(Array.from({ length: 20 }, (_, i) => `e${i}`));
  for (let e = 0; e < 5; e++) for (let i = 0; i < 5; i++) twenty.d.record(`e${e}`, fail);
  assert.equal(twenty.d.ejected().size, 2, '10% of 20');
});

test('endpoints that leave are forgotten', () => {
  const { d } = detector(['a', 'b', 'c']);
  for (let i = 0; i < 5; i++) d.record('a', fail);
  d.setEndpoints(['b', 'c']);
  assert.deepEqual([...d.ejected()], []);
  d.record('gone', fail);
});

test('concurrency limits: overflow is refused and named; releases never go below zero', () => {
  const limits = new ConcurrencyLimits({ maxConnections: 1, maxPendingRequests: 2, maxRequests: 2 });
  assert.deepEqual([limits.tryAcquire('request'), limits.tryAcquire('request'), limits.tryAcquire('request')], [true, true, false]);
  assert.equal(limits.overflowReason('request'), 'max_requests=2');
  limits.release('request');
  assert.equal(limits.tryAcquire('request'), true);
  limits.release('connection');
  limits.release('connection');
  assert.equal(limits.snapshot().connection, 0);
  assert.equal(limits.tryAcquire('connection'), true);
  assert.equal(limits.tryAcquire('connection'), false);
});
