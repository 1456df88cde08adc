// Shared fixtures for the balancer tests.

import { FakeClock } from '../../helpers/fake-clock.ts';
import { createBalancer } from '../../../src/proxy/balance/index.ts';
import type { Balancer, BalancerPolicy, Endpoint } from '../../../src/proxy/balance/types.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';

export function endpoint(id: string, weight = 1): Endpoint {
  return { id, address: `10.0.0.${id.length}`, port: 8080, weight };
}

export function endpoints(...ids: string[]): Endpoint[] {
  return ids.map((id) => endpoint(id));
}

export function balancer(policy: BalancerPolicy, seed = 1, clock = new FakeClock()): Balancer {
  return createBalancer(policy, { random: seededRandom(seed), clock });
}

/** Counts of picked ids over n picks; pick i uses hash key `key-i` (ring_hash needs varying keys). */
export function tally(b: Balancer, n: number, exclude?: ReadonlySet<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = b.pick({ hashKey: `key-${i}` }, exclude);
    const id = e?.id ?? '(none)';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
