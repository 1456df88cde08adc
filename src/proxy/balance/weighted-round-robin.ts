// weighted_round_robin: nginx's smooth weighted round robin
// (ngx_http_upstream_get_peer). On each pick every eligible endpoint's score
// grows by its weight, the highest score wins and loses the total weight.
// Over any window of sum(weights) picks each endpoint gets exactly its
// weight's share, and the heavy ones are interleaved with the light ones
// rather than sent in bursts: weights 5,1,1 give a,a,b,a,c,a,a.
//
// Excluded endpoints sit the round out (their score does not grow), as nginx
// skips peers that are down or already tried. Weight 0 counts as 1.

import type { Balancer, Endpoint, PickContext } from './types.ts';
import { weightOf } from './types.ts';

export class WeightedRoundRobin implements Balancer {
  readonly policy = 'weighted_round_robin' as const;
  private endpoints: readonly Endpoint[] = [];
  /** nginx's current_weight, by endpoint id. */
  private scores = new Map<string, number>();

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = [...endpoints];
    // Endpoints that stay keep their score so the sequence carries on
    // smoothly; new ones start at 0 like a freshly loaded nginx upstream.
    const next = new Map<string, number>();
    for (const e of endpoints) next.set(e.id, this.scores.get(e.id) ?? 0);
    this.scores = next;
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    let best: Endpoint | undefined;
    let bestScore = -Infinity;
    let total = 0;
    for (const e of this.endpoints) {
      if (exclude?.has(e.id)) continue;
      const weight = weightOf(e);
      const score = (this.scores.get(e.id) ?? 0) + weight;
      this.scores.set(e.id, score);
      total += weight;
      // Strictly greater: ties go to the earlier endpoint, as in nginx.
      if (score > bestScore) {
        best = e;
        bestScore = score;
      }
    }
    if (best) this.scores.set(best.id, bestScore - total);
    return best;
  }

  onStart(): void {}
  onEnd(): void {}
}
