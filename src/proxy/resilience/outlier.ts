// Outlier detection, Envoy's consecutive-5xx: an endpoint whose last
// consecutiveErrors attempts were all server errors (isServerError) is
// ejected for baseEjectionMs × the number of times it has been ejected,
// capped at maxEjectionMs. At most maxEjectionPercent of the endpoints are out
// at once, but at least one may always be (as Envoy). If fewer than two
// endpoints would be left, panic mode: nothing is excluded and the load
// spreads over all of them, since half-healthy endpoints beat refusing all.
//
// Time is read from the clock when asked (no timers): an ejection that has
// run out ends at the next call, so onReturn fires then, and the balancer,
// which asks on every pick, never sees a stale exclusion.

import type { Clock } from '../../lib/clock.ts';
import { isServerError, type AttemptOutcome } from './outcome.ts';

export interface OutlierOptions {
  consecutiveErrors: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  /** The longest one ejection lasts. Default: Envoy's max_ejection_time, 300 s or base if longer. */
  maxEjectionMs?: number;
  clock: Clock;
  onEject?: (endpointId: string, forMs: number) => void;
  /** 'expired': back in the pool; 'removed': gone from the endpoint set while ejected. */
  onReturn?: (endpointId: string, why: 'expired' | 'removed') => void;
}

interface EndpointState {
  consecutive: number;
  /** Ejections in a row; the next one lasts base × (this + 1). Decays while the endpoint stays in. */
  ejections: number;
  ejectedUntil: number | undefined;
  /** When the last ejection ended. */
  returnedAt: number;
}

export class OutlierDetector {
  private readonly options: OutlierOptions;
  private readonly maxEjectionMs: number;
  private states = new Map<string, EndpointState>();

  constructor(options: OutlierOptions) {
    const { consecutiveErrors, baseEjectionMs, maxEjectionPercent } = options;
    if (!(Number.isSafeInteger(consecutiveErrors) && consecutiveErrors >= 1)) throw new RangeError(`consecutiveErrors must be a whole number, 1 or more, got ${consecutiveErrors}`);
    if (!(baseEjectionMs > 0 && Number.isFinite(baseEjectionMs))) throw new RangeError(`baseEjectionMs must be more than 0, got ${baseEjectionMs}`);
    if (!(maxEjectionPercent >= 0 && maxEjectionPercent <= 100)) throw new RangeError(`maxEjectionPercent must be between 0 and 100, got ${maxEjectionPercent}`);
    this.options = options;
    this.maxEjectionMs = Math.max(baseEjectionMs, options.maxEjectionMs ?? 300_000);
  }

  /** The current endpoints. State of those that left is forgotten; the cap counts this set. */
  setEndpoints(ids: readonly string[]): void {
    this.expire();
    const next = new Map<string, EndpointState>();
    for (const id of ids) next.set(id, this.states.get(id) ?? { consecutive: 0, ejections: 0, ejectedUntil: undefined, returnedAt: 0 });
    for (const [id, state] of this.states) if (!next.has(id) && state.ejectedUntil !== undefined) this.options.onReturn?.(id, 'removed');
    this.states = next;
  }

  /** Feeds one attempt's outcome. Unknown endpoints are ignored. */
  record(endpointId: string, outcome: AttemptOutcome): void {
    this.expire();
    const state = this.states.get(endpointId);
    // While ejected, outcomes come from requests sent before the ejection or
    // in panic mode; they judge the past, so they neither count nor eject again.
    if (!state || state.ejectedUntil !== undefined) return;
    if (!isServerError(outcome)) {
      state.consecutive = 0;
      return;
    }
    state.consecutive += 1;
    // When the cap refuses, the count stays at the threshold, so the endpoint
    // is ejected at its next error once a slot frees up.
    if (state.consecutive < this.options.consecutiveErrors || this.ejectedCount() >= this.maxEjected()) return;
    const now = this.options.clock.now();
    const base = this.options.baseEjectionMs;
    // The multiplier decays by one for every base period the endpoint stayed in
    // since its last ejection (Envoy decays it per interval), and stops growing
    // once the ejection time is at its cap.
    const decayed = Math.max(0, state.ejections - Math.floor((now - state.returnedAt) / base));
    state.ejections = Math.min(decayed + 1, Math.ceil(this.maxEjectionMs / base));
    state.consecutive = 0;
    const forMs = Math.min(this.maxEjectionMs, base * state.ejections);
    state.ejectedUntil = now + forMs;
    this.options.onEject?.(endpointId, forMs);
  }

  /** The endpoints ejected now, panic or not. */
  ejected(): ReadonlySet<string> {
    this.expire();
    const out = new Set<string>();
    for (const [id, state] of this.states) if (state.ejectedUntil !== undefined) out.add(id);
    return out;
  }

  /** True when honouring the ejections would leave fewer than two endpoints. */
  panic(): boolean {
    const ejected = this.ejected().size;
    return ejected > 0 && this.states.size - ejected < 2;
  }

  /** What the balancer must skip: the ejected endpoints, or nothing in panic mode. */
  effectiveExclusions(): ReadonlySet<string> {
    return this.panic() ? new Set() : this.ejected();
  }

  private expire(): void {
    const now = this.options.clock.now();
    for (const [id, state] of this.states) {
      if (state.ejectedUntil === undefined || state.ejectedUntil > now) continue;
      // Decay counts from when the ejection ended, not from when someone asked.
      state.returnedAt = state.ejectedUntil;
      state.ejectedUntil = undefined;
      this.options.onReturn?.(id, 'expired');
    }
  }

  private ejectedCount(): number {
    let n = 0;
    for (const state of this.states.values()) if (state.ejectedUntil !== undefined) n += 1;
    return n;
  }

  /** Envoy's "at least one host regardless of the value": with few endpoints, 10% rounds to one. */
  private maxEjected(): number {
    return Math.max(1, Math.floor((this.states.size * this.options.maxEjectionPercent) / 100));
  }
}
