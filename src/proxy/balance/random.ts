// random: uniform over the endpoints not excluded.

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
    this.endpoints = endpoints;
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const candidates = exclude && exclude.size > 0 ? this.endpoints.filter((e) => !exclude.has(e.id)) : this.endpoints;
    return candidates.length === 0 ? undefined : candidates[Math.floor(this.random() * candidates.length)];
  }

  onStart(): void {}
  onEnd(): void {}
}
