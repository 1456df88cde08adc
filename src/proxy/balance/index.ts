// The balancer for a policy.

import type { Clock, Random } from '../../lib/clock.ts';
import { LeastRequest } from './least-request.ts';
import { P2cEwma } from './p2c-ewma.ts';
import { RandomBalancer } from './random.ts';
import { RingHash } from './ring-hash.ts';
import { RoundRobin } from './round-robin.ts';
import type { Balancer, BalancerPolicy } from './types.ts';
import { WeightedRoundRobin } from './weighted-round-robin.ts';

export function createBalancer(policy: BalancerPolicy, deps: { random: Random; clock: Clock }): Balancer {
  switch (policy) {
    case 'round_robin':
      return new RoundRobin();
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
  }
}
