// Circuit-breaking limits per service, in Envoy's model: concurrent
// connections, requests waiting for a connection, and active requests. An
// overflow is refused at once, never queued, and the caller answers 503
// naming the limit (x-mesh-error: circuit_breaker; policy=max_requests=1024),
// so a saturated upstream is shed at the caller instead of piling up there.

export type LimitKind = 'connection' | 'pending' | 'request';

export interface LimitOptions {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
}

export interface LimitsSnapshot {
  readonly active: Readonly<Record<LimitKind, number>>;
  readonly max: Readonly<Record<LimitKind, number>>;
  /** Acquisitions refused, as Envoy's upstream_cx_overflow / upstream_rq_pending_overflow / upstream_rq_overflow. */
  readonly overflows: Readonly<Record<LimitKind, number>>;
  /** Releases without an acquire. Always 0 unless the mechanism has a bug. */
  readonly overReleases: number;
}

const NAMES: Readonly<Record<LimitKind, string>> = { connection: 'max_connections', pending: 'max_pending_requests', request: 'max_requests' };

export class ConcurrencyLimits {
  private readonly max: Record<LimitKind, number>;
  private readonly active: Record<LimitKind, number> = { connection: 0, pending: 0, request: 0 };
  private readonly overflows: Record<LimitKind, number> = { connection: 0, pending: 0, request: 0 };
  private overReleases = 0;

  constructor(options: LimitOptions) {
    this.max = { connection: options.maxConnections, pending: options.maxPendingRequests, request: options.maxRequests };
    for (const kind of Object.keys(NAMES) as LimitKind[]) {
      const value = this.max[kind];
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${NAMES[kind]} must be a whole number, 0 or more, got ${value}`);
    }
  }

  /** Takes one slot of kind; false when the limit is reached (the overflow is counted). */
  tryAcquire(kind: LimitKind): boolean {
    if (this.active[kind] >= this.max[kind]) {
      this.overflows[kind] += 1;
      return false;
    }
    this.active[kind] += 1;
    return true;
  }

  /**
   * Gives a slot back. A release with nothing held is clamped at zero rather
   * than going negative, which would silently raise the limit by one for every
   * double release; it is counted in overReleases so the bug shows in metrics.
   */
  release(kind: LimitKind): void {
    if (this.active[kind] === 0) {
      this.overReleases += 1;
      return;
    }
    this.active[kind] -= 1;
  }

  /** The limit's name as Envoy and the x-mesh-error header spell it: 'max_requests'. */
  overflowReason(kind: LimitKind): string {
    return NAMES[kind];
  }

  limit(kind: LimitKind): number {
    return this.max[kind];
  }

  snapshot(): LimitsSnapshot {
    return { active: { ...this.active }, max: { ...this.max }, overflows: { ...this.overflows }, overReleases: this.overReleases };
  }
}
