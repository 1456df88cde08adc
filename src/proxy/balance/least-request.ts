// least_request: the endpoint with the fewest requests in flight (for TCP,
// connections) from this proxy. Weights are ignored.
//
// Envoy, with equal weights, does not scan: it samples two endpoints at
// random and takes the less loaded ("power of two choices"), which is O(1)
// and, when many clients share stale load information, avoids all of them
// rushing to the same least-loaded host. Here the counts are this proxy's
// own and always current, and a mesh of VMs has tens of endpoints, not
// thousands, so an exact O(n) scan is cheap and strictly better at finding
// the least loaded. What remains of the herd problem is ties: at a cold start
// every count is 0, and taking the first would pile the first burst onto one
// endpoint; so ties are broken uniformly at random among the least loaded.
//
// Counts live by endpoint id and are not dropped by update(): a request that
// started before an endpoint left still ends, and if the endpoint comes back
// meanwhile its count is right. A count is deleted when it returns to 0, so
// the map only holds endpoints with requests in flight.

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
    this.endpoints = [...endpoints];
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    // First pass: the least count and how many share it. Second pass: the
    // k-th of those, k drawn once, so a pick costs one random draw and no allocation.
    let least = Infinity;
    let ties = 0;
    for (const e of this.endpoints) {
      if (exclude?.has(e.id)) continue;
      const n = this.outstanding.get(e.id) ?? 0;
      if (n < least) {
        least = n;
        ties = 1;
      } else if (n === least) ties += 1;
    }
    if (ties === 0) return undefined;
    let k = ties === 1 ? 0 : Math.floor(this.random() * ties);
    for (const e of this.endpoints) {
      if (exclude?.has(e.id) || (this.outstanding.get(e.id) ?? 0) !== least) continue;
      if (k === 0) return e;
      k -= 1;
    }
    return undefined;
  }

  onStart(id: string): void {
    this.outstanding.set(id, (this.outstanding.get(id) ?? 0) + 1);
  }

  onEnd(id: string): void {
    // An end without a start (a balancer replaced mid-request) must not drive a count below 0.
    const n = (this.outstanding.get(id) ?? 0) - 1;
    if (n <= 0) this.outstanding.delete(id);
    else this.outstanding.set(id, n);
  }
}
