// A budget of `perSecond` takes a second: a token bucket that holds one
// second's worth (the burst) and refills continuously. The span budget
// (tracing.max_spans_per_second) and tap's per-session and per-node sampling
// share it. Over any T seconds it lets through at most perSecond × (1 + T):
// one burst, then the rate. A fixed one-second window (a comparison cheaper)
// hands out a fresh second's worth at every edge, so bursts on both sides of
// each edge pass twice the limit again and again; the bucket's second burst
// needs a quiet second to refill. One multiply per take.
// The clock is injected so the bucket is tested without waiting.

import type { Clock } from './clock.ts';

export class PerSecondBudget {
  private readonly perSecond: number;
  private readonly clock: Pick<Clock, 'now'>;
  private tokens: number;
  private last: number;
  private refusedCount = 0;

  constructor(perSecond: number, clock: Pick<Clock, 'now'>) {
    this.perSecond = perSecond;
    this.clock = clock;
    this.tokens = perSecond;
    this.last = clock.now();
  }

  /** One take's worth, if there is one left; false (and counted) when the budget is spent. */
  take(): boolean {
    const now = this.clock.now();
    // A clock that steps back adds nothing.
    if (now > this.last) {
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refusedCount++;
    return false;
  }

  /** Takes the budget refused since it was made. */
  get refused(): number {
    return this.refusedCount;
  }
}
