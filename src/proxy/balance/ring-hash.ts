// ring_hash: consistent hashing, for affinity on a header's value or the
// source IP. Each endpoint owns points on a 32-bit ring, a key goes to the
// first point clockwise of its hash, and an excluded endpoint's keys go on
// clockwise to the next endpoint that is not excluded.
//
// Points per endpoint: 256 per unit of weight, fixed. Envoy instead scales
// its ring to a minimum of 1,024 points for the whole set, which makes every
// endpoint's point count depend on the others: going from 3 to 4 endpoints
// drops a quarter of each one's points and moves ~35% of keys instead of 25%.
// A fixed count means a membership change moves only the keys of the endpoint
// that came or went, ~1/N, which is the promise affinity rests on; 256
// points keep each endpoint's share within ~6% (1σ) of its weight. Only a
// ring past 131,072 points (512 units of weight) is scaled down, for memory;
// then each change also rescales the others, moving ~1/N more keys.
//
// Points are hashes of "<id>#<i>" with FNV-1a 32 and murmur3's finaliser (to
// spread keys that differ in their last characters), ties broken by id, so
// every proxy builds the same ring from the same set in any order, and a key
// maps to the same endpoint whichever proxy it passes through. The mapping is
// meshctl's own, not Envoy's (which uses xxHash64).
//
// Without a hash key the pick is a random point on the ring: spread by
// weight, skipping excluded endpoints the same way.

import type { Random } from '../../lib/clock.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';
import { weightOf } from './types.ts';

export const POINTS_PER_WEIGHT = 256;
export const MAX_RING_POINTS = 131_072;

/** FNV-1a, 32 bits, over UTF-16 code units, then murmur3's fmix32. Stable: keys' placement depends on it. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class RingHash implements Balancer {
  readonly policy = 'ring_hash' as const;
  private endpoints: readonly Endpoint[] = [];
  /** Ring points in ascending order, and the endpoint owning each. */
  private points = new Uint32Array(0);
  private owners: Endpoint[] = [];
  /** Each endpoint's point hashes, kept across updates so only newcomers are hashed. */
  private hashes = new Map<string, Uint32Array>();
  private readonly random: Random;

  constructor(random: Random) {
    this.random = random;
  }

  update(endpoints: readonly Endpoint[]): void {
    const byId = new Map(endpoints.map((e) => [e.id, e] as const));
    const sorted = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const totalWeight = sorted.reduce((sum, e) => sum + weightOf(e), 0);
    const scale = Math.min(1, MAX_RING_POINTS / (totalWeight * POINTS_PER_WEIGHT));
    const hashes = new Map<string, Uint32Array>();
    let size = 0;
    for (const e of sorted) {
      const count = Math.max(1, Math.round(weightOf(e) * POINTS_PER_WEIGHT * scale));
      const old = this.hashes.get(e.id);
      // Point i of an endpoint is the same whatever its count, so a weight change only adds or removes points.
      const mine = old && old.length === count ? old : Uint32Array.from({ length: count }, (_, i) => hash32(`${e.id}#${i}`));
      hashes.set(e.id, mine);
      size += count;
    }
    // Sort (point, rank) packed in one float64: exact, as point < 2^32 and
    // rank < 2^20; the rank (position in id order) breaks ties between equal points.
    const packed = new Float64Array(size);
    let at = 0;
    sorted.forEach((e, rank) => {
      for (const p of hashes.get(e.id) as Uint32Array) packed[at++] = p * 2 ** 20 + rank;
    });
    packed.sort();
    this.points = new Uint32Array(size);
    this.owners = new Array<Endpoint>(size);
    for (let i = 0; i < size; i++) {
      const v = packed[i] as number;
      this.points[i] = Math.floor(v / 2 ** 20);
      this.owners[i] = sorted[v % 2 ** 20] as Endpoint;
    }
    this.hashes = hashes;
    this.endpoints = sorted;
  }

  pick(ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    // Bail out before walking the ring when nothing is eligible.
    if (!this.endpoints.some((e) => !exclude?.has(e.id))) return undefined;
    const h = ctx.hashKey === undefined ? Math.floor(this.random() * 2 ** 32) : hash32(ctx.hashKey);
    const n = this.points.length;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    // lo === n wraps to the first point: the ring is a circle.
    for (let i = 0; i < n; i++) {
      const owner = this.owners[(lo + i) % n] as Endpoint;
      if (!exclude?.has(owner.id)) return owner;
    }
    return undefined;
  }

  onStart(): void {}
  onEnd(): void {}
}
