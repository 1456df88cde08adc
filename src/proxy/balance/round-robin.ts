// round_robin: each endpoint in turn, skipping excluded ones. Weights are
// ignored (weighted_round_robin honours them).
//
// The first pick starts at a random position: every proxy sees the catalog
// in the same order, so after a fleet-wide restart they would otherwise all
// send their first requests to the same endpoint at once.

import type { Random } from '../../lib/clock.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export class RoundRobin implements Balancer {
  readonly policy = 'round_robin' as const;
  private endpoints: readonly Endpoint[] = [];
  /** Index of the next endpoint to try; -1 until the first pick. */
  private next = -1;
  private readonly random: Random;

  constructor(random: Random) {
    this.random = random;
  }

  update(endpoints: readonly Endpoint[]): void {
    // The position is kept (modulo the new size): a catalog change does not
    // send the next request back to the first endpoint.
    this.endpoints = [...endpoints];
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    if (this.next < 0) this.next = Math.floor(this.random() * n);
    for (let i = 0; i < n; i++) {
      const at = (this.next + i) % n;
      const candidate = this.endpoints[at] as Endpoint;
      if (exclude?.has(candidate.id)) continue;
      this.next = (at + 1) % n;
      return candidate;
    }
    return undefined;
  }

  onStart(): void {}
  onEnd(): void {}
}
