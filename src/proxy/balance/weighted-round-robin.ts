// weighted_round_robin: nginx's smooth weighted round robin. Each pick adds
// every endpoint's weight to its current score and takes the highest, which
// then loses the total; weights 5,1,1 give a,a,b,a,c,a,a: proportional and
// interleaved rather than in bursts.

import type { Balancer, Endpoint, PickContext } from './types.ts';

export class WeightedRoundRobin implements Balancer {
  readonly policy = 'weighted_round_robin' as const;
  private endpoints: readonly Endpoint[] = [];
  private current = new Map<string, number>();

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    const next = new Map<string, number>();
    for (const e of endpoints) next.set(e.id, this.current.get(e.id) ?? 0);
    this.current = next;
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    let best: Endpoint | undefined;
    let total = 0;
    for (const e of this.endpoints) {
      if (exclude?.has(e.id)) continue;
      const weight = Math.max(1, e.weight);
      total += weight;
      const score = (this.current.get(e.id) ?? 0) + weight;
      this.current.set(e.id, score);
      if (!best || score > (this.current.get(best.id) ?? 0)) best = e;
    }
    if (best) this.current.set(best.id, (this.current.get(best.id) ?? 0) - total);
    return best;
  }

  onStart(): void {}
  onEnd(): void {}
}
