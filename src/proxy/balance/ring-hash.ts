// ring_hash: consistent hashing for affinity (a header's value or the source
// IP). Each endpoint owns 100 points per unit of weight on a 32-bit ring
// (at least 1,024 points in all, like Envoy's minimum); a key goes to the
// first point clockwise of its hash. Adding or removing one of N endpoints
// moves about 1/N of the keys. An excluded endpoint's keys go to the next
// endpoint clockwise. Without a key, the pick is random.

import type { Random } from '../../lib/clock.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

const POINTS_PER_WEIGHT = 100;
const MIN_RING = 1024;

/** FNV-1a, 32 bits, then a murmur3 finaliser so nearby keys spread. */
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
  private ring: Array<{ point: number; endpoint: Endpoint }> = [];
  private readonly random: Random;

  constructor(random: Random) {
    this.random = random;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    const totalWeight = endpoints.reduce((sum, e) => sum + Math.max(1, e.weight), 0);
    const scale = totalWeight === 0 ? 1 : Math.max(1, Math.ceil(MIN_RING / (totalWeight * POINTS_PER_WEIGHT)));
    const ring: Array<{ point: number; endpoint: Endpoint }> = [];
    for (const e of endpoints) {
      const points = Math.max(1, e.weight) * POINTS_PER_WEIGHT * scale;
      for (let i = 0; i < points; i++) ring.push({ point: hash32(`${e.id}#${i}`), endpoint: e });
    }
    ring.sort((a, b) => a.point - b.point);
    this.ring = ring;
  }

  pick(ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    if (this.ring.length === 0) return undefined;
    if (ctx.hashKey === undefined) {
      const candidates = exclude && exclude.size > 0 ? this.endpoints.filter((e) => !exclude.has(e.id)) : this.endpoints;
      return candidates.length === 0 ? undefined : candidates[Math.floor(this.random() * candidates.length)];
    }
    const h = hash32(ctx.hashKey);
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ring[mid] as { point: number }).point < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < this.ring.length; i++) {
      const entry = this.ring[(lo + i) % this.ring.length] as { endpoint: Endpoint };
      if (!exclude?.has(entry.endpoint.id)) return entry.endpoint;
    }
    return undefined;
  }

  onStart(): void {}
  onEnd(): void {}
}
