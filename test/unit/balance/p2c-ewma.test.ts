import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EWMA_DEFAULT_RTT_MS, P2cEwma } from '../../../src/proxy/balance/p2c-ewma.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { endpoints } from './helpers.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';

function setup(ids: string[], seed = 3) {
  const clock = new FakeClock();
  const b = new P2cEwma(seededRandom(seed), clock);
  b.update(endpoints(...ids));
  return { clock, b };
}

/** Traffic on virtual time: perTick requests every tickMs, each ending after its endpoint's latency. */
function drive(b: P2cEwma, clock: FakeClock, latency: Record<string, number>, ms: number, tickMs: number, perTick: number) {
  const counts: Record<string, number> = {};
  for (let t = 0; t < ms; t += tickMs) {
    for (let k = 0; k < perTick; k++) {
      const e = b.pick({});
      assert.ok(e);
      counts[e.id] = (counts[e.id] ?? 0) + 1;
      b.onStart(e.id);
      const l = latency[e.id] ?? 1;
      clock.after(l, () => b.onEnd(e.id, l, true));
    }
    clock.advance(tickMs);
  }
  return counts;
}

const share = (counts: Record<string, number>, id: string) => (counts[id] ?? 0) / Object.values(counts).reduce((a, n) => a + n, 0);

test('p2c_ewma shifts traffic away from a slow endpoint, and back once it recovers', () => {
  const { clock, b } = setup(['slow', 'f1', 'f2']);
  const latency = { slow: 50, f1: 1, f2: 1 };
  const first = drive(b, clock, latency, 1000, 1, 10); // 10k picks over 1 s
  assert.ok(share(first, 'slow') < 0.1, `slow got ${share(first, 'slow')}`);

  latency.slow = 1;
  const early = drive(b, clock, latency, 10_000, 10, 1);
  drive(b, clock, latency, 80_000, 10, 1);
  const late = drive(b, clock, latency, 30_000, 10, 1);
  // A stale 50 ms estimate takes ~τ·ln(50) ≈ 40 s to decay; after that the
  // recovered endpoint takes its third again.
  assert.ok(share(early, 'slow') < 0.05, `right after recovering: ${share(early, 'slow')}`);
  assert.ok(share(late, 'slow') > 0.28, `after 90 s: ${share(late, 'slow')}`);
});

test('p2c_ewma estimates by peak: a slow sample counts at once, fast ones over seconds', () => {
  // [what, ms since the endpoint appeared (estimate 30 ms), sample ms, the estimate expected]
  const table: Array<[string, number, number, (cost: number) => boolean]> = [
    ['a slower sample replaces the estimate', 0, 200, (c) => c === 200],
    ['a faster sample right away barely moves it', 1, 5, (c) => c > 29 && c < 30],
    ['a faster sample after 10 s weighs 1 - 1/e', 10_000, 5, (c) => Math.abs(c - (30 / Math.E + 5 * (1 - 1 / Math.E))) < 1e-9],
  ];
  for (const [name, dt, sample, ok] of table) {
    const { clock, b } = setup(['a', 'b']);
    clock.advance(dt);
    b.onStart('a');
    b.onEnd('a', sample, true);
    assert.ok(ok(b.cost('a')), `${name}: ${b.cost('a')}`);
  }
});

test('p2c_ewma lets an idle estimate decay, so a once-slow endpoint gets probed again', () => {
  const { clock, b } = setup(['a', 'b']);
  b.onStart('a');
  b.onEnd('a', 100, true);
  assert.equal(b.cost('a'), 100);
  clock.advance(10_000);
  assert.ok(Math.abs(b.cost('a') - 100 / Math.E) < 1e-9);
});

test('p2c_ewma multiplies the estimate by the requests in flight + 1', () => {
  const { b } = setup(['a', 'b']);
  assert.equal(b.cost('a'), EWMA_DEFAULT_RTT_MS);
  b.onStart('a');
  b.onStart('a');
  assert.equal(b.cost('a'), 3 * EWMA_DEFAULT_RTT_MS);
  for (let i = 0; i < 100; i++) assert.equal(b.pick({})?.id, 'b', 'the two candidates are always distinct');
});

test('p2c_ewma sends a new endpoint traffic at once when it starts cheaper than the rest', () => {
  const { clock, b } = setup(['a', 'b']);
  drive(b, clock, { a: 100, b: 100 }, 1000, 10, 1);
  b.update(endpoints('a', 'b', 'new'));
  const counts = drive(b, clock, { a: 100, b: 100, new: 100 }, 1000, 10, 1);
  assert.ok(share(counts, 'new') > 0.2, `new got ${share(counts, 'new')}`);
});

test('p2c_ewma does not reward an endpoint for failing fast', () => {
  const { clock, b } = setup(['failing', 'ok']);
  const counts: Record<string, number> = {};
  let lowest = Infinity;
  for (let i = 0; i < 2000; i++) {
    const e = b.pick({});
    assert.ok(e);
    counts[e.id] = (counts[e.id] ?? 0) + 1;
    b.onStart(e.id);
    clock.advance(5);
    if (e.id === 'ok') b.onEnd(e.id, 20, true);
    else {
      b.onEnd(e.id, 0.5, false);
      lowest = Math.min(lowest, b.cost(e.id));
    }
  }
  // Counted as 0.5 ms successes, the failures would pull its estimate to 0.5 and win every pair.
  assert.ok(lowest >= EWMA_DEFAULT_RTT_MS, `estimate after a failure: ${lowest}`);
  assert.ok(share(counts, 'failing') < 0.3, `failing got ${share(counts, 'failing')}`);
});

test('p2c_ewma keeps what it learned about endpoints that stay', () => {
  const { b } = setup(['a', 'b']);
  b.onStart('a');
  b.onEnd('a', 500, true);
  b.update(endpoints('a', 'b', 'c'));
  assert.equal(b.cost('a'), 500);
  assert.equal(b.cost('c'), EWMA_DEFAULT_RTT_MS);
});

test('p2c_ewma counts requests still in flight on an endpoint that left and came back', () => {
  const { b } = setup(['a', 'b']);
  b.onStart('a');
  b.onStart('a');
  b.update(endpoints('b'));
  b.update(endpoints('a', 'b'));
  assert.equal(b.cost('a'), 3 * EWMA_DEFAULT_RTT_MS);
  b.onEnd('a', 10, true);
  b.onEnd('a', 10, true);
  b.onEnd('a', 10, true); // one end too many is ignored, not counted below zero
  assert.ok(b.cost('a') <= EWMA_DEFAULT_RTT_MS);
});

test('p2c_ewma ignores a latency that is not a measurement', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -5]) {
    const { b } = setup(['a', 'b']);
    b.onStart('a');
    b.onEnd('a', bad, true);
    assert.equal(b.cost('a'), EWMA_DEFAULT_RTT_MS, String(bad));
  }
});
