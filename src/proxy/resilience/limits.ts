// Circuit-breaking limits per service, as Envoy's: concurrent connections,
// pending requests and active requests. An overflow is refused at once and
// the caller answers 503 naming the limit.

export type LimitKind = 'connection' | 'pending' | 'request';

export interface LimitOptions {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
}

const NAMES: Record<LimitKind, string> = { connection: 'max_connections', pending: 'max_pending_requests', request: 'max_requests' };

export class ConcurrencyLimits {
  private readonly max: Record<LimitKind, number>;
  private readonly active: Record<LimitKind, number> = { connection: 0, pending: 0, request: 0 };

  constructor(options: LimitOptions) {
    this.max = { connection: options.maxConnections, pending: options.maxPendingRequests, request: options.maxRequests };
  }

  tryAcquire(kind: LimitKind): boolean {
    if (this.active[kind] >= this.max[kind]) return false;
    this.active[kind] += 1;
    return true;
  }

  /** Releasing more than was acquired is clamped at zero (a double release must not open the breaker wider). */
  release(kind: LimitKind): void {
    this.active[kind] = Math.max(0, this.active[kind] - 1);
  }

  overflowReason(kind: LimitKind): string {
    return `${NAMES[kind]}=${this.max[kind]}`;
  }

  snapshot(): Readonly<Record<LimitKind, number>> {
    return { ...this.active };
  }
}
