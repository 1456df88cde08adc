// p2c_ewma, Linkerd's default: pick two distinct endpoints at random and send
// to the cheaper, where cost = peak-EWMA latency × (requests in flight + 1).
// Two random choices rather than the global cheapest: the cheapest endpoint
// would take every request until its own numbers caught up (a herd), while
// two choices already give most of the benefit (Mitzenmacher).
//
// Peak EWMA (Finagle, then tower/Linkerd): a sample above the estimate
// replaces it at once, so a slowdown is believed immediately; a sample below
// is blended in with weight 1 - exp(-Δt/τ), τ = 10 s, so a recovery is
// believed over seconds, not after one lucky request. Between samples the
// estimate decays towards 0 at the same rate: an endpoint that stopped getting
// traffic because it was slow eventually looks cheap, gets probed, and either
// proves it recovered or is re-peaked by its next sample. Δt comes from the
// injected clock and reading a cost changes nothing, so the estimate does not
// depend on how often pick() runs.
//
// New endpoints start at 30 ms, Linkerd's default RTT: roughly a
// cross-host round trip plus a modest handler. 0 would flood a cold
// endpoint; a high value would starve it until the others degrade. Combined
// with the in-flight factor, a newcomer gets traffic at once without
// taking all of it.
//
// Failures (ok = false) may raise the estimate but never lower it: a backend
// failing fast would otherwise look like the cheapest and attract everything.
// Ejecting it is the outlier detector's job; not rewarding it is this one's.
// Weights are ignored, as in Linkerd.

import type { Clock, Random } from '../../lib/clock.ts';
import type { Balancer, Endpoint, PickContext } from './types.ts';

export const EWMA_DEFAULT_RTT_MS = 30;
export const EWMA_DECAY_MS = 10_000;

interface Load {
  /** The estimate as of `stamp`; decays towards 0 from there. */
  ewma: number;
  stamp: number;
  outstanding: number;
}

export class P2cEwma implements Balancer {
  readonly policy = 'p2c_ewma' as const;
  private endpoints: readonly Endpoint[] = [];
  private current = new Set<string>();
  /** Current endpoints, plus any that left with requests still in flight. */
  private loads = new Map<string, Load>();
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly decayMs: number;
  private readonly defaultRttMs: number;

  constructor(random: Random, clock: Clock, options: { decayMs?: number; defaultRttMs?: number } = {}) {
    this.random = random;
    this.clock = clock;
    this.decayMs = options.decayMs ?? EWMA_DECAY_MS;
    this.defaultRttMs = options.defaultRttMs ?? EWMA_DEFAULT_RTT_MS;
  }

  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = [...endpoints];
    this.current = new Set(endpoints.map((e) => e.id));
    const now = this.clock.now();
    const next = new Map<string, Load>();
    for (const e of endpoints) next.set(e.id, this.loads.get(e.id) ?? { ewma: this.defaultRttMs, stamp: now, outstanding: 0 });
    // A departed endpoint's record stays until its last request ends, so a
    // quick leave-and-return keeps its in-flight count right.
    for (const [id, load] of this.loads) if (!next.has(id) && load.outstanding > 0) next.set(id, load);
    this.loads = next;
  }

  pick(_ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const candidates = exclude && exclude.size > 0 ? this.endpoints.filter((e) => !exclude.has(e.id)) : this.endpoints;
    if (candidates.length <= 1) return candidates[0];
    const i = Math.floor(this.random() * candidates.length);
    // Draw the second from the other n-1 so the two are always distinct.
    let j = Math.floor(this.random() * (candidates.length - 1));
    if (j >= i) j += 1;
    const a = candidates[i] as Endpoint;
    const b = candidates[j] as Endpoint;
    return this.cost(b.id) < this.cost(a.id) ? b : a;
  }

  onStart(id: string): void {
    const load = this.loads.get(id);
    if (load) load.outstanding += 1;
  }

  onEnd(id: string, latencyMs: number, ok: boolean): void {
    const load = this.loads.get(id);
    if (!load) return; // left before it started, or a balancer replaced mid-request
    load.outstanding = Math.max(0, load.outstanding - 1);
    if (!this.current.has(id)) {
      if (load.outstanding === 0) this.loads.delete(id);
      return;
    }
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    const now = this.clock.now();
    const w = this.decay(load, now);
    const sample = ok ? latencyMs : Math.max(latencyMs, load.ewma);
    load.ewma = sample > load.ewma * w ? sample : load.ewma * w + sample * (1 - w);
    load.stamp = now;
  }

  /** The load-weighted latency the pick compares; exposed for tests and diagnostics. */
  cost(id: string): number {
    const load = this.loads.get(id);
    if (!load) return this.defaultRttMs;
    return load.ewma * this.decay(load, this.clock.now()) * (load.outstanding + 1);
  }

  private decay(load: Load, now: number): number {
    return Math.exp(-Math.max(0, now - load.stamp) / this.decayMs);
  }
}
