// A budget of `limit` per wall-clock second (a fixed one-second window): the
// cheapest bound there is, one comparison and one increment per take. Tap
// samples with it; a burst at a window's edge may pass up to 2×limit over any
// sliding second, which is fine for a bound on sampling.

import type { Clock } from './clock.ts';

export class PerSecondBudget {
  private readonly limit: number;
  private readonly clock: Clock;
  private window = -1;
  private used = 0;

  constructor(limit: number, clock: Clock) {
    this.limit = limit;
    this.clock = clock;
  }

  /** True when one more fits in the current second (and counts it). */
  take(): boolean {
    const window = Math.floor(this.clock.now() / 1000);
    if (window !== this.window) {
      this.window = window;
      this.used = 0;
    }
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
}
