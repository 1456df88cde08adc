// One latency histogram for the agents (which fill it) and the server (which
// merges and reads it): fixed, log-spaced buckets, so two histograms merge by
// adding counts, and a percentile is a walk over at most BUCKETS entries.
//
// Bucket i (1 ≤ i < BUCKETS-1) holds (MIN·R^(i-1), MIN·R^i] with R = 2^(1/16):
// each bucket is 4.4% wide and a percentile read as the bucket's geometric
// middle is within ±2.2% of the true sample's value. Bucket 0 holds
// everything ≤ MIN (10 µs), the last one everything over ~100 s.
// On the wire a histogram is sparse: [[bucket, count], ...], only non-zero.

export const HISTOGRAM_MIN_MS = 0.01;
const STEPS_PER_DOUBLING = 16;
/** 24 doublings above 10 µs reach ~168 s; anything slower shares the last bucket. */
export const HISTOGRAM_BUCKETS = 24 * STEPS_PER_DOUBLING + 2;

export type SparseHistogram = Array<[bucket: number, count: number]>;

/** The bucket a latency (ms) falls in. */
export function bucketOf(ms: number): number {
  if (!(ms > HISTOGRAM_MIN_MS)) return 0; // NaN and negatives too: a clock step must not throw
  const i = Math.ceil(Math.log2(ms / HISTOGRAM_MIN_MS) * STEPS_PER_DOUBLING);
  return Math.min(Math.max(i, 1), HISTOGRAM_BUCKETS - 1);
}

/** The value a bucket stands for: its geometric middle (the underflow bucket reads as MIN). */
export function valueOf(bucket: number): number {
  if (bucket <= 0) return HISTOGRAM_MIN_MS;
  return HISTOGRAM_MIN_MS * 2 ** ((bucket - 0.5) / STEPS_PER_DOUBLING);
}

/**
 * Past this many distinct buckets a histogram is stored dense: a Map costs ~30 bytes an entry and
 * grows by doubling, so at 64+ entries it outweighs a 4-byte count per bucket (1.5 KB). The server
 * holds one histogram per series per bucket of its window, so a wide one must stay small.
 */
const DENSE_AFTER = 64;
const UINT32_MAX = 0xffff_ffff;

export class LatencyHistogram {
  /** Sparse: bucket → count. A map keeps a quiet series' histogram a few entries long. */
  private sparse: Map<number, number> | undefined = new Map();
  /** Dense, once wide: 32-bit counts, widened to 64-bit floats (exact to 2^53) by the first count that needs it. */
  private dense: Uint32Array | Float64Array | undefined;
  private n = 0;

  get count(): number {
    return this.n;
  }

  record(ms: number): void {
    this.add(bucketOf(ms), 1);
  }

  private add(bucket: number, count: number): void {
    if (!Number.isInteger(bucket) || bucket < 0 || bucket >= HISTOGRAM_BUCKETS || !(count > 0)) return;
    this.n += count;
    if (this.sparse) {
      this.sparse.set(bucket, (this.sparse.get(bucket) ?? 0) + count);
      if (this.sparse.size > DENSE_AFTER) this.densify();
      return;
    }
    let dense = this.dense as Uint32Array | Float64Array;
    const next = (dense[bucket] as number) + count;
    if (next > UINT32_MAX && dense instanceof Uint32Array) dense = this.dense = Float64Array.from(dense);
    dense[bucket] = next;
  }

  private densify(): void {
    const entries = this.sparse as Map<number, number>;
    let max = 0;
    for (const count of entries.values()) max = Math.max(max, count);
    const dense = max > UINT32_MAX ? new Float64Array(HISTOGRAM_BUCKETS) : new Uint32Array(HISTOGRAM_BUCKETS);
    for (const [bucket, count] of entries) dense[bucket] = count;
    this.dense = dense;
    this.sparse = undefined;
  }

  /** The non-zero (bucket, count) pairs, in no particular order for a sparse one, by bucket for a dense one. */
  private *entries(): Iterable<[number, number]> {
    if (this.sparse) {
      yield* this.sparse;
      return;
    }
    const dense = this.dense as Uint32Array | Float64Array;
    for (let bucket = 0; bucket < dense.length; bucket++) if (dense[bucket]) yield [bucket, dense[bucket] as number];
  }

  merge(other: LatencyHistogram | SparseHistogram): void {
    if (other instanceof LatencyHistogram && other.dense) {
      // Dense into dense, one pass: the server's window merges hundreds of these per read.
      if (this.sparse) this.densify();
      const from = other.dense;
      let into = this.dense as Uint32Array | Float64Array;
      if (into instanceof Uint32Array && from instanceof Float64Array) into = this.dense = Float64Array.from(into);
      for (let bucket = 0; bucket < from.length; bucket++) {
        const count = from[bucket] as number;
        if (count === 0) continue;
        const next = (into[bucket] as number) + count;
        if (next > UINT32_MAX && into instanceof Uint32Array) into = this.dense = Float64Array.from(into);
        into[bucket] = next;
      }
      this.n += other.n;
      return;
    }
    const entries = other instanceof LatencyHistogram ? (other.sparse as Map<number, number>) : other;
    for (const [bucket, count] of entries) this.add(bucket, count);
  }

  /** The value at quantile q (0..1): the bucket holding the ceil(q·n)-th sample; undefined when empty. */
  quantile(q: number): number | undefined {
    return this.n === 0 ? undefined : this.walk(this.toSparse(), q);
  }

  /** p50/p95/p99 from one sort, rounded to the microsecond; null when empty (the API's shape). */
  percentiles(): { p50: number; p95: number; p99: number } | null {
    if (this.n === 0) return null;
    const sorted = this.toSparse();
    const at = (q: number) => Math.round(this.walk(sorted, q) * 1000) / 1000;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }

  private walk(sorted: SparseHistogram, q: number): number {
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (const [bucket, count] of sorted) {
      seen += count;
      if (seen >= rank) return valueOf(bucket);
    }
    return valueOf((sorted.at(-1) as [number, number])[0]);
  }

  toSparse(): SparseHistogram {
    const pairs = [...this.entries()];
    return this.sparse ? pairs.sort((a, b) => a[0] - b[0]) : pairs;
  }

  static fromSparse(sparse: SparseHistogram): LatencyHistogram {
    const h = new LatencyHistogram();
    h.merge(sparse);
    return h;
  }
}
