// p2c_ewma, as Linkerd balances: pick two endpoints at random and send to the
// cheaper, where cost = peak-EWMA latency × (requests in flight + 1). "Peak":
// a sample above the average replaces it at once (a slowdown is believed
// immediately), a lower one decays it with a 10 s time constant (a recovery
// is believed gradually). New endpoints start at 30 ms, a typical
// cross-host RTT plus app time, so they get traffic without being flooded.

import type { Clock, Random } from '../../lib/clock.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

const DECAY_MS = 10_000;
const DEFAULT_RTT_MS = 30;

interface Load {
  ewma: number;
  stamp: number;
  outstanding: number;
}

export class P2cEwma implements Balancer {
  readonly policy = 'p2c_ewma' as const;
  private endpoints: readonly Endpoint[] = [];
  private loads = new Map<string, Load>();
  private readonly random: Random;
  private readonly clock: Clock;

  constructor(random: Random, clock: Clock) {
    this.random = random;
    this.clock = clock;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    const next = new Map<string, Load>();
    for (const e of endpoints) next.set(e.id, this.loads.get(e.id) ?? { ewma: DEFAULT_RTT_MS, stamp: this.clock.now(), outstanding: 0 });
    this.loads = next;
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const candidates = exclude && exclude.size > 0 ? this.endpoints.filter((e) => !exclude.has(e.id)) : this.endpoints;
    if (candidates.length <= 1) return candidates[0];
    const i = Math.floor(this.random() * candidates.length);
    let j = Math.floor(this.random() * (candidates.length - 1));
    if (j >= i) j += 1;
    const a = candidates[i] as Endpoint;
    const b = candidates[j] as Endpoint;
    return this.cost(a) <= this.cost(b) ? a : b;
  }

  onStart(id: string): void {
    const load = this.loads.get(id);
    if (load) load.outstanding += 1;
  }

  onEnd(id: string, latencyMs: number): void {
    const load = this.loads.get(id);
    if (!load) return;
    load.outstanding = Math.max(0, load.outstanding - 1);
    const now = this.clock.now();
    if (latencyMs > load.ewma) load.ewma = latencyMs;
    else {
      const w = Math.exp(-Math.max(0, now - load.stamp) / DECAY_MS);
      load.ewma = load.ewma * w + latencyMs * (1 - w);
    }
    load.stamp = now;
  }

  private cost(e: Endpoint): number {
    const load = this.loads.get(e.id);
    if (!load) return DEFAULT_RTT_MS;
    // Decay towards the default while idle, so a once-slow endpoint is tried again.
    const w = Math.exp(-Math.max(0, this.clock.now() - load.stamp) / DECAY_MS);
    const ewma = load.ewma * w + Math.min(load.ewma, DEFAULT_RTT_MS) * (1 - w);
    return ewma * (load.outstanding + 1);
  }
}
