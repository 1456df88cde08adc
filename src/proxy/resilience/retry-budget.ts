// Linkerd's retry budget: retries may add at most retryRatio of the requests
// seen over the last ttl, plus a floor of minRetriesPerSecond, so retries
// cannot turn an outage into a storm. Requests and retries are counted in
// one-second buckets over the window.

import type { Clock } from '../../lib/clock.ts';

export interface RetryBudgetOptions {
  retryRatio: number;
  minRetriesPerSecond: number;
  ttlMs: number;
  clock: Clock;
}

export class RetryBudget {
  private readonly options: RetryBudgetOptions;
  private readonly buckets: Array<{ second: number; requests: number; retries: number }> = [];

  constructor(options: RetryBudgetOptions) {
    this.options = options;
  }

  recordRequest(): void {
    this.bucket().requests += 1;
  }

  /** Whether a retry may go now; when it may, it is counted. */
  tryWithdraw(): boolean {
    this.prune();
    const windowSeconds = this.options.ttlMs / 1000;
    let requests = 0;
    let retries = 0;
    for (const b of this.buckets) {
      requests += b.requests;
      retries += b.retries;
    }
    const allowed = requests * this.options.retryRatio + this.options.minRetriesPerSecond * windowSeconds;
    if (retries + 1 > allowed) return false;
    this.bucket().retries += 1;
    return true;
  }

  private bucket() {
    const second = Math.floor(this.options.clock.now() / 1000);
    let last = this.buckets[this.buckets.length - 1];
    if (!last || last.second !== second) {
      last = { second, requests: 0, retries: 0 };
      this.buckets.push(last);
      this.prune();
    }
    return last;
  }

  private prune(): void {
    const oldest = Math.floor((this.options.clock.now() - this.options.ttlMs) / 1000);
    while (this.buckets.length > 0 && (this.buckets[0] as { second: number }).second <= oldest) this.buckets.shift();
  }
}
