// The balancer for a policy. Every policy gets the same injected clock and
// random source so a cluster can switch policy without rewiring, and tests
// make every one of them deterministic.

import type { Clock, Random } from '../../lib/clock.ts';
import { LeastRequest } from './least-request.ts';
import { P2cEwma } from './p2c-ewma.ts';
import { RandomBalancer } from './random.ts';
import { RingHash } from './ring-hash.ts';
import { RoundRobin } from './round-robin.ts';
import type { Balancer, BalancerPolicy } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export type { Balancer, BalancerPolicy, Endpoint, PickContext } from './types.ts';
export { BALANCER_POLICIES } from './types.ts';

export function createBalancer(policy: BalancerPolicy, deps: { random: Random; clock: Clock }): Balancer {
  switch (policy) {
    case 'round_robin':
      return new RoundRobin(deps.random);
    case 'weighted_round_robin':
      return new WeightedRoundRobin();
    case 'least_request':
      return new LeastRequest(deps.random);
    case 'random':
      return new RandomBalancer(deps.random);
    case 'p2c_ewma':
      return new P2cEwma(deps.random, deps.clock);
    case 'ring_hash':
      return new RingHash(deps.random);
    default:
      // Config is validated upstream; this guards a policy added to the type but not here.
      throw new Error(`unknown load balancer policy: ${String(policy satisfies never)}`);
  }
}
