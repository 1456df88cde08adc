// How many spans an agent records per second at most: a token bucket that
// holds one second's worth (the burst) and refills continuously. Sampling is
// parent-based, so a caller that sends `traceparent …-01` on every request
// decides for the mesh that every hop records a span; the budget is what
// bounds the CPU and export cost of that, per agent, whatever callers send.
// The clock is injected so the bucket is tested without waiting.

export class SpanBudget {
  private readonly perSecond: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;
  private refusedCount = 0;

  constructor(perSecond: number, now: () => number) {
    this.perSecond = perSecond;
    this.now = now;
    this.tokens = perSecond;
    this.last = now();
  }

  /** One span's worth, if there is one left; false (and counted) when the budget is spent. */
  take(): boolean {
    const now = this.now();
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

  /** Spans the budget refused since it was made. */
  get refused(): number {
    return this.refusedCount;
  }
}
