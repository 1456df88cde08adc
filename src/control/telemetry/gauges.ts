// Open TCP connections: each agent reports its current gauges (absolute) with
// every report, at least every 10 s; the server keeps each node's latest set
// and sums them. A node silent for STALE_MS (its agent gone) stops counting,
// so its connections do not stay "open" forever.

import type { ReportedOpen } from '../../config/telemetry-report.ts';

export const STALE_MS = 30_000;

export class OpenGauges {
  private readonly byNode = new Map<string, { at: number; open: readonly ReportedOpen[] }>();

  set(node: string, open: readonly ReportedOpen[], nowMs: number): void {
    this.byNode.set(node, { at: nowMs, open });
  }

  /** Open connections per series key (direction, source, destination) summed over live nodes. */
  sum(nowMs: number, keyOf: (o: ReportedOpen) => string): Map<string, number> {
    const total = new Map<string, number>();
    for (const [node, entry] of this.byNode) {
      if (nowMs - entry.at > STALE_MS) {
        this.byNode.delete(node);
        continue;
      }
      for (const o of entry.open) total.set(keyOf(o), (total.get(keyOf(o)) ?? 0) + o.open);
    }
    return total;
  }
}
