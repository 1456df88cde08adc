// random: uniform over the endpoints not excluded, weights ignored. Needs no
// state and no feedback, so it is the baseline the other policies are
// measured against; with many independent proxies it spreads load about as
// well as round robin without any coordination.

import type { Random } from '../../lib/clock.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export class RandomBalancer implements Balancer {
  readonly policy = 'random' as const;
  private endpoints: readonly Endpoint[] = [];
  private readonly random: Random;

  constructor(random: Random) {
    this.random = random;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = [...endpoints];
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    // Filtering only when something is excluded keeps the common path free of allocation.
    const candidates = exclude && exclude.size > 0 ? this.endpoints.filter((e) => !exclude.has(e.id)) : this.endpoints;
    if (candidates.length === 0) return undefined;
    return candidates[Math.floor(this.random() * candidates.length)];
  }

  onStart(): void {}
  onEnd(): void {}
}
