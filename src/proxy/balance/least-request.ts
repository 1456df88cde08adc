// least_request: the endpoint with the fewest requests in flight (for TCP,
// connections). Ties are broken at random, so a cold start does not pile
// everything onto the first endpoint.

import type { Random } from '../../lib/clock.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export class LeastRequest implements Balancer {
  readonly policy = 'least_request' as const;
  private endpoints: readonly Endpoint[] = [];
  private readonly outstanding = new Map<string, number>();
  private readonly random: Random;

  constructor(random: Random) {
    this.random = random;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    let least = Infinity;
    let ties: Endpoint[] = [];
    for (const e of this.endpoints) {
      if (exclude?.has(e.id)) continue;
      const n = this.outstanding.get(e.id) ?? 0;
      if (n < least) {
        least = n;
        ties = [e];
      } else if (n === least) ties.push(e);
    }
    return ties.length === 0 ? undefined : ties[Math.floor(this.random() * ties.length)];
  }

  onStart(id: string): void {
    this.outstanding.set(id, (this.outstanding.get(id) ?? 0) + 1);
  }

  onEnd(id: string): void {
    const n = (this.outstanding.get(id) ?? 0) - 1;
    if (n <= 0) this.outstanding.delete(id);
    else this.outstanding.set(id, n);
  }
}
