// Outlier detection (Envoy's consecutive-5xx): an endpoint that fails
// consecutiveErrors times in a row is ejected for baseEjectionMs × the number
// of times it has been ejected. At most maxEjectionPercent of the endpoints
// are out at once, but at least one may always be (as Envoy). When fewer than
// two endpoints would be left, panic mode: nothing is excluded and the load
// spreads over all of them, since a half-healthy set beats refusing everyone.

import type { Clock } from '../../lib/clock.ts';
import { isServerError, type AttemptOutcome } from './outcome.ts';

export interface OutlierOptions {
  consecutiveErrors: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  clock: Clock;
  onEject?: (endpointId: string, forMs: number) => void;
  onReturn?: (endpointId: string) => void;
}

interface State {
  consecutive: number;
  ejections: number;
  ejectedUntil: number;
}

export class OutlierDetector {
  private readonly options: OutlierOptions;
  private states = new Map<string, State>();

  constructor(options: OutlierOptions) {
    this.options = options;
  }

  setEndpoints(ids: readonly string[]): void {
    const next = new Map<string, State>();
    for (const id of ids) next.set(id, this.states.get(id) ?? { consecutive: 0, ejections: 0, ejectedUntil: 0 });
    this.states = next;
  }

  record(endpointId: string, outcome: AttemptOutcome): void {
    const state = this.states.get(endpointId);
    if (!state) return;
    if (!isServerError(outcome)) {
      state.consecutive = 0;
      return;
    }
    state.consecutive += 1;
    const now = this.options.clock.now();
    if (state.consecutive < this.options.consecutiveErrors || state.ejectedUntil > now) return;
    if (this.ejected().size >= this.maxEjected()) return;
    state.ejections += 1;
    state.consecutive = 0;
    const forMs = this.options.baseEjectionMs * state.ejections;
    state.ejectedUntil = now + forMs;
    this.options.onEject?.(endpointId, forMs);
  }

  /** Endpoints ejected now. */
  ejected(): ReadonlySet<string> {
    const now = this.options.clock.now();
    const out = new Set<string>();
    for (const [id, state] of this.states) {
      if (state.ejectedUntil > now) out.add(id);
      else if (state.ejectedUntil !== 0) {
        state.ejectedUntil = 0;
        this.options.onReturn?.(id);
      }
    }
    return out;
  }

  /** Fewer than two endpoints would be left: ejections are ignored. */
  panic(): boolean {
    const ejected = this.ejected().size;
    return ejected > 0 && this.states.size - ejected < 2;
  }

  /** What the balancer must skip: the ejected endpoints, or nothing in panic mode. */
  effectiveExclusions(): ReadonlySet<string> {
    return this.panic() ? new Set() : this.ejected();
  }

  private maxEjected(): number {
    return Math.max(1, Math.floor((this.states.size * this.options.maxEjectionPercent) / 100));
  }
}
