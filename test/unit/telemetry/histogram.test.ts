import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HISTOGRAM_BUCKETS, LatencyHistogram, bucketOf, valueOf } from '../../../src/lib/latency-histogram.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';

/** The exact q-quantile of the samples, by the same rank rule (the ceil(q·n)-th smallest). */
function exact(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

const random = seededRandom(8);
const distributions: Record<string, () => number> = {
  'uniform 1..100 ms': () => 1 + random() * 99,
  'exponential, mean 5 ms': () => -5 * Math.log(1 - random()),
  'log-normal around 2 ms with a slow tail': () => 2 * Math.exp(1.2 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())),
  'bimodal: 90% at ~0.3 ms, 10% at ~250 ms': () => (random() < 0.9 ? 0.25 + random() * 0.1 : 200 + random() * 100),
};

for (const [name, draw] of Object.entries(distributions)) {
  test(`p50, p95 and p99 are within 2.5% of the exact values: ${name}`, () => {
    const samples = Array.from({ length: 50_000 }, draw);
    const h = new LatencyHistogram();
    for (const s of samples) h.record(s);
    assert.equal(h.count, samples.length);
    for (const q of [0.5, 0.95, 0.99]) {
      const want = exact(samples, q);
      const got = h.quantile(q) as number;
      assert.ok(Math.abs(got - want) / want <= 0.025, `q${q}: ${got.toFixed(4)} ms vs exact ${want.toFixed(4)} ms`);
    }
  });
}

test('merging histograms is the histogram of all the samples', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  const all = new LatencyHistogram();
  for (let i = 0; i < 1000; i++) {
    const v = 0.1 + random() * 50;
    (i % 3 === 0 ? a : b).record(v);
    all.record(v);
  }
  a.merge(LatencyHistogram.fromSparse(b.toSparse()));
  assert.deepEqual(a.toSparse(), all.toSparse());
  assert.deepEqual(a.percentiles(), all.percentiles());
});

test('every value lands in a bucket whose middle is within 2.2% of it; the ends catch the rest', () => {
  for (let v = 0.011; v < 100_000; v *= 1.013) {
    const b = bucketOf(v);
    assert.ok(Math.abs(valueOf(b) - v) / v <= 0.0221, `${v} → bucket ${b} reads ${valueOf(b)}`);
  }
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(-3), 0, 'a clock step backwards does not throw');
  assert.equal(bucketOf(Number.NaN), 0);
  assert.equal(bucketOf(1e9), HISTOGRAM_BUCKETS - 1);
});

test('an empty histogram has no percentiles; a sparse one stays short', () => {
  const h = new LatencyHistogram();
  assert.equal(h.percentiles(), null);
  for (let i = 0; i < 10_000; i++) h.record(3);
  assert.equal(h.toSparse().length, 1);
  const p = h.percentiles() as { p50: number; p95: number; p99: number };
  assert.ok(p.p50 === p.p95 && p.p95 === p.p99 && Math.abs(p.p50 - 3) / 3 <= 0.022, JSON.stringify(p));
});

test('out-of-range buckets and counts from a report are ignored, not counted', () => {
  const h = LatencyHistogram.fromSparse([[-1, 5], [HISTOGRAM_BUCKETS, 5], [3, 0], [3.5, 1], [10, 2]]);
  assert.equal(h.count, 2);
});

test('a wide histogram (stored dense) reads, merges and serializes as the sparse one would', () => {
  const wide = new LatencyHistogram();
  const reference: Array<[number, number]> = [];
  for (let b = 0; b < HISTOGRAM_BUCKETS; b += 2) reference.push([b, b + 1]);
  // In two halves: the first keeps it sparse, the second makes it dense mid-merge.
  wide.merge(reference.slice(0, 40));
  wide.merge(reference.slice(40));
  assert.deepEqual(wide.toSparse(), reference);
  assert.equal(wide.count, reference.reduce((n, [, c]) => n + c, 0));
  const narrow = LatencyHistogram.fromSparse([[1, 5], [3, 7]]);
  narrow.merge(wide);
  wide.merge(LatencyHistogram.fromSparse([[1, 5], [3, 7]]));
  assert.deepEqual(narrow.toSparse(), wide.toSparse(), 'dense into sparse and sparse into dense agree');
  assert.deepEqual(narrow.percentiles(), wide.percentiles());
});

test('dense counts past 32 bits stay exact', () => {
  const h = new LatencyHistogram();
  h.merge(Array.from({ length: 100 }, (_, b) => [b, 1] as [number, number]));
  h.merge([[7, 2 ** 40], [7, 2 ** 40]]);
  assert.equal(h.toSparse().find(([b]) => b === 7)?.[1], 2 ** 41 + 1);
  assert.equal(h.count, 100 + 2 ** 41);
  const wide = LatencyHistogram.fromSparse(Array.from({ length: 100 }, (_, b) => [b, 2 ** 31] as [number, number]));
  wide.merge(h);
  assert.equal(wide.toSparse().find(([b]) => b === 7)?.[1], 2 ** 31 + 2 ** 41 + 1, 'dense into dense too');
  assert.equal(wide.count, 100 * 2 ** 31 + h.count);
});
