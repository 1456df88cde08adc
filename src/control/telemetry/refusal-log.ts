// One log line per node per minute at most about the report entries the
// server refused from it (node-scope.ts): a misconfigured or hostile agent
// reports every second, and a line per report would drown the server's log.
// Counts refused between two lines are summed into the next one.

import type { Refused } from './node-scope.ts';

export const REFUSAL_LOG_INTERVAL_MS = 60_000;

interface Pending {
  lastLoggedAt: number;
  refused: Refused;
}

export class RefusalLog {
  private readonly byNode = new Map<string, Pending>();
  private readonly log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.log = log;
  }

  note(node: string, refused: Refused, example: string, nowMs: number): void {
    if (refused.series + refused.open + refused.errors === 0) return;
    let pending = this.byNode.get(node);
    if (!pending) {
      pending = { lastLoggedAt: -Infinity, refused: { series: 0, open: 0, errors: 0 } };
      this.byNode.set(node, pending);
    }
    pending.refused.series += refused.series;
    pending.refused.open += refused.open;
    pending.refused.errors += refused.errors;
    if (nowMs - pending.lastLoggedAt < REFUSAL_LOG_INTERVAL_MS) return;
    const r = pending.refused;
    this.log(
      `telemetry: refused ${r.series} series, ${r.open} open-connection gauges and ${r.errors} errors from node "${node}" ` +
        `for traffic of services not registered on it (e.g. ${example}); check which services that host registers (meshctl services)`,
    );
    pending.lastLoggedAt = nowMs;
    pending.refused = { series: 0, open: 0, errors: 0 };
  }
}
