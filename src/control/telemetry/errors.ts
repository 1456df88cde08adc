// The newest mesh errors and upstream 5xx the agents reported, for
// GET /v1/mesh/stats/errors: a ring of MAX_ERRORS, each stamped with the node
// that reported it. Older ones fall off; nothing else bounds it.

import type { ReportedError } from '../../config/telemetry-report.ts';

export const MAX_ERRORS = 1000;

export interface StoredError extends ReportedError {
  node: string;
}

export class ErrorRing {
  private readonly entries: StoredError[] = [];
  private readonly max: number;

  constructor(max = MAX_ERRORS) {
    this.max = max;
  }

  add(node: string, errors: readonly ReportedError[]): void {
    for (const error of errors) this.entries.push({ ...error, node });
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
  }

  /** Newest first; with a service, those it called or was called by. */
  list(options: { service?: string; limit: number }): StoredError[] {
    const out: StoredError[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length < options.limit; i--) {
      const e = this.entries[i] as StoredError;
      if (options.service === undefined || e.source === options.service || e.destination === options.service) out.push(e);
    }
    // Reports arrive per node, so the ring is in arrival order; the answer is in the order the errors happened.
    return out.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  }
}
