// The agent's side of `meshctl tap`: a telemetry sink that keeps the requests
// the active tap sessions ask for, at most TAP_EVENTS_PER_SECOND per session,
// until the sender drains them. With no session (nearly always) a record
// costs one boolean check: tap must not tax the traffic it is not watching.
// Both stages feed it, so a tapped request seen by the caller's and the
// callee's proxies on this host gives two events, told apart by `direction`.

import type { Clock } from '../../lib/clock.ts';
import { PerSecondBudget } from '../../lib/per-second.ts';
import type { HttpRecord, TelemetrySink } from '../../proxy/telemetry/records.ts';
import { clipTapText, TAP_EVENTS_PER_SECOND, TAP_PATH_CHARS, TAP_TEXT_CHARS, tapMatches, type TapBatch, type TapEvent, type TapSession } from '../../config/tap.ts';

/** Events held per session between two sends (~200 ms); past it they count as dropped. */
export const TAP_QUEUE_PER_SESSION = 200;

interface Tapped {
  readonly session: TapSession;
  readonly budget: PerSecondBudget;
  events: Array<Omit<TapEvent, 'node'>>;
  dropped: number;
}

export interface TapCounters {
  sessions: number;
  /** Records that matched a session. */
  matched: number;
  /** Events handed to the sender. */
  sent: number;
  /** Matching records left out: over the per-second budget or the queue. */
  dropped: number;
}

export class TapSink implements TelemetrySink {
  private readonly clock: Clock;
  private readonly perSecond: number;
  private tapped: Tapped[] = [];
  /** The one check every record pays. */
  private active = false;
  readonly counters: TapCounters = { sessions: 0, matched: 0, sent: 0, dropped: 0 };

  constructor(options: { clock: Clock; perSecond?: number }) {
    this.clock = options.clock;
    this.perSecond = options.perSecond ?? TAP_EVENTS_PER_SECOND;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** The sessions the server publishes now; a session that stays keeps its budget and queue. */
  setSessions(sessions: readonly TapSession[]): void {
    const kept = new Map(this.tapped.map((t) => [t.session.id, t]));
    this.tapped = sessions.map((session) => kept.get(session.id) ?? { session, budget: new PerSecondBudget(this.perSecond, this.clock), events: [], dropped: 0 });
    this.active = this.tapped.length > 0;
    this.counters.sessions = this.tapped.length;
  }

  http(record: HttpRecord): void {
    if (!this.active) return;
    for (const t of this.tapped) {
      if (!tapMatches(t.session, record.destination, record.method, record.path)) continue;
      this.counters.matched++;
      if (t.events.length >= TAP_QUEUE_PER_SESSION || !t.budget.take()) {
        t.dropped++;
        this.counters.dropped++;
        continue;
      }
      t.events.push(eventOf(record));
    }
  }

  /** What to send now, or undefined when there is nothing; the queues start again empty. */
  drain(node: string): TapBatch | undefined {
    const sessions: TapBatch['sessions'] = [];
    for (const t of this.tapped) {
      if (t.events.length === 0 && t.dropped === 0) continue;
      sessions.push({ id: t.session.id, events: t.events, dropped: t.dropped });
      this.counters.sent += t.events.length;
      t.events = [];
      t.dropped = 0;
    }
    return sessions.length > 0 ? { node, sessions } : undefined;
  }
}

/** The event line of a record; long texts are cut to what the server passes on (it cuts them too, for older agents). */
export function eventOf(record: HttpRecord): Omit<TapEvent, 'node'> {
  return {
    time: new Date(record.startedAt).toISOString(),
    direction: record.direction,
    source: record.source,
    destination: record.destination,
    method: record.method,
    path: clipTapText(record.path, TAP_PATH_CHARS),
    status: record.status,
    latencyMs: Math.round(record.durationMs * 1000) / 1000,
    endpoint: clipTapText(record.endpoint ?? '', TAP_TEXT_CHARS),
    requestId: clipTapText(record.requestId ?? '', TAP_TEXT_CHARS),
    ...(record.traceId ? { traceId: clipTapText(record.traceId, TAP_TEXT_CHARS) } : {}),
    ...(record.failure ? { cause: clipTapText(record.failure.cause, TAP_TEXT_CHARS) } : {}),
  };
}
