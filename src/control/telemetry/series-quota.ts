// Which series the server's telemetry window may count. Each series costs a
// histogram in every bucket it is reported in, so the number of series is
// what bounds the window's memory and the cost of a read:
//   - at most `total` distinct series at a time (the global cap);
//   - at most `perNode` of them reported by any one node, so a few bad or
//     misconfigured agents (a node's reports need that node's token) fill
//     their own share, not the table, and cannot lock the others out for the
//     whole retention.
// A series a node has not reported for `retentionSeconds` stops counting
// against that node, and against the cap once no node reports it.
//
// Cost: O(1) per (node, series) of a report. Each map is kept in the order of
// last report (a touched key moves to the end), so forgetting pops keys off
// the front until the first one still fresh: no scan of the table.

export interface SeriesQuotaLimits {
  total: number;
  perNode: number;
  retentionSeconds: number;
}

export class SeriesQuota {
  private readonly limits: SeriesQuotaLimits;
  /** Every counted series → the last second any node reported it, oldest first. */
  private readonly lastSeen = new Map<string, number>();
  /** Per node: its series → the last second it reported them, oldest first. */
  private readonly byNode = new Map<string, Map<string, number>>();
  private forgottenUpTo = Number.NEGATIVE_INFINITY;

  constructor(limits: SeriesQuotaLimits) {
    this.limits = limits;
  }

  /** Whether `node`'s report of series `key` in `second` is counted; counts it as seen if so. */
  admit(node: string, key: string, second: number): boolean {
    if (second > this.forgottenUpTo) this.forget(second);
    let mine = this.byNode.get(node);
    if (mine?.has(key)) {
      touch(mine, key, second);
      touch(this.lastSeen, key, second);
      return true;
    }
    if ((mine?.size ?? 0) >= this.limits.perNode) return false;
    if (!this.lastSeen.has(key) && this.lastSeen.size >= this.limits.total) return false;
    if (!mine) {
      mine = new Map();
      this.byNode.set(node, mine);
    }
    touch(mine, key, second);
    touch(this.lastSeen, key, second);
    return true;
  }

  /** Once a second: drops what nobody reported within the retention. O(nodes + keys dropped). */
  private forget(second: number): void {
    this.forgottenUpTo = second;
    const before = second - this.limits.retentionSeconds;
    dropOlder(this.lastSeen, before);
    for (const [node, mine] of this.byNode) {
      dropOlder(mine, before);
      if (mine.size === 0) this.byNode.delete(node);
    }
  }
}

/** Moves `key` to the end (the newest) with `second`. */
function touch(map: Map<string, number>, key: string, second: number): void {
  if (map.get(key) === second) return;
  map.delete(key);
  map.set(key, second);
}

/** Deletes the keys last seen at or before `second`, from the front (the oldest) until a fresher one. */
function dropOlder(map: Map<string, number>, second: number): void {
  for (const [key, last] of map) {
    if (last > second) return;
    map.delete(key);
  }
}
