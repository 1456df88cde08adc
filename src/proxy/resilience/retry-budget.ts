// Linkerd's retry budget (Finagle's RetryBudget, tower's TpsBudget): retries
// may add at most retryRatio of the requests seen over the last ttl, plus a
// floor of minRetriesPerSecond, so that when an upstream fails, retries add a
// bounded fraction of load instead of multiplying it by numRetries + 1.
//
// A token bucket whose deposits expire: each request deposits retryRatio of a
// token, each retry withdraws one, and the balance is a fixed reserve
// (minRetriesPerSecond × ttl seconds tokens) plus what the last ttl deposited
// and withdrew. The window is 10 slots of ttl/10, as in Finagle and tower, so
// a deposit counts for between 0.9 ttl and ttl. Withdrawals expire too, which
// is what turns the reserve into a rate: 10/s over 10 s allows 100 retries in
// any 10 s, in a burst or spread out. Tokens are kept in thousandths so that
// ratios like 0.2 add up exactly.

import type { Clock } from '../../lib/clock.ts';

export interface RetryBudgetOptions {
  retryRatio: number;
  minRetriesPerSecond: number;
  ttlMs: number;
  clock: Clock;
}

const SLOTS = 10;
const TOKEN = 1000;

export class RetryBudget {
  private readonly clock: Clock;
  private readonly slotMs: number;
  private readonly deposit: number;
  private readonly reserve: number;
  /** Net tokens (deposits minus withdrawals) per slot; slot i holds epochs ≡ i mod SLOTS. */
  private readonly slots: number[] = new Array<number>(SLOTS).fill(0);
  /** The newest slot's epoch (clock time / slotMs). */
  private epoch: number;

  constructor(options: RetryBudgetOptions) {
    const { retryRatio, minRetriesPerSecond, ttlMs } = options;
    if (!(retryRatio >= 0 && retryRatio <= 1000)) throw new RangeError(`retryRatio must be between 0 and 1000, got ${retryRatio}`);
    if (!(minRetriesPerSecond >= 0 && Number.isFinite(minRetriesPerSecond))) throw new RangeError(`minRetriesPerSecond must be 0 or more, got ${minRetriesPerSecond}`);
    if (!(ttlMs >= 1000 && ttlMs <= 60_000)) throw new RangeError(`ttlMs must be between 1000 and 60000, got ${ttlMs}`);
    this.clock = options.clock;
    this.slotMs = ttlMs / SLOTS;
    this.deposit = Math.round(retryRatio * TOKEN);
    this.reserve = Math.round(minRetriesPerSecond * (ttlMs / 1000) * TOKEN);
    this.epoch = this.epochNow();
  }

  /** One original request (not a retry: retries must not pay for more retries). */
  recordRequest(): void {
    this.add(this.rotate(), this.deposit);
  }

  /** Whether a retry may go now; when it may, its token is taken. */
  tryWithdraw(): boolean {
    const slot = this.rotate();
    if (this.balance() < TOKEN) return false;
    this.add(slot, -TOKEN);
    return true;
  }

  /** Whole retries the budget would allow now, for metrics. */
  available(): number {
    this.rotate();
    return Math.max(0, Math.floor(this.balance() / TOKEN));
  }

  private add(slot: number, tokens: number): void {
    this.slots[slot] = (this.slots[slot] ?? 0) + tokens;
  }

  private balance(): number {
    return this.slots.reduce((sum, tokens) => sum + tokens, this.reserve);
  }

  /** Clears the slots that fell out of the window since the last call; returns the current one. */
  private rotate(): number {
    const now = this.epochNow();
    // A clock that steps back keeps writing into the newest slot rather than into the past.
    const steps = Math.min(SLOTS, now - this.epoch);
    for (let k = 1; k <= steps; k++) this.slots[(this.epoch + k) % SLOTS] = 0;
    if (now > this.epoch) this.epoch = now;
    return this.epoch % SLOTS;
  }

  private epochNow(): number {
    return Math.floor(this.clock.now() / this.slotMs);
  }
}
