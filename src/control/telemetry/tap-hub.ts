// The server's side of tap: the open sessions, published to the agents as a
// blocking read (index moves on every open and close, and waiting agents are
// woken at once), and the fan-out of the events agents post to the sessions
// they match. Everything is bounded: TAP_MAX_SESSIONS sessions, and per
// session and node TAP_EVENTS_PER_SECOND events a second, whatever an agent
// sends. In memory only: a session lives as long as its HTTP stream, which
// does not outlive the server either.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { MeshError } from '../../lib/errors.ts';
import { PerSecondBudget } from '../../lib/per-second.ts';
import { TAP_EVENTS_PER_SECOND, TAP_MAX_SESSIONS, tapMatches, type TapBatch, type TapEvent, type TapFilter, type TapSession } from '../../config/tap.ts';
import { sanitizeTapEvent } from './tap-event.ts';

/** Where a session's events go: the stream of the operator who opened it. */
export interface TapListener {
  events(events: TapEvent[]): void;
  /** Matching requests left out (by an agent's sampling or by the server's bound). */
  dropped(count: number): void;
}

interface HubSession {
  readonly session: TapSession;
  readonly listener: TapListener;
  /** Per node: a misbehaving agent cannot flood one session. */
  readonly budgets: Map<string, PerSecondBudget>;
}

export interface TapHubCounters {
  sessionsOpened: number;
  batches: number;
  eventsReceived: number;
  eventsDelivered: number;
  eventsDropped: number;
}

export class TapHub {
  private readonly clock: Clock;
  private readonly maxSessions: number;
  private readonly perSecond: number;
  private readonly sessions = new Map<string, HubSession>();
  private waiters = new Set<() => void>();
  private currentIndex = 1;
  readonly counters: TapHubCounters = { sessionsOpened: 0, batches: 0, eventsReceived: 0, eventsDelivered: 0, eventsDropped: 0 };

  constructor(options: { clock: Clock; maxSessions?: number; perSecond?: number }) {
    this.clock = options.clock;
    this.maxSessions = options.maxSessions ?? TAP_MAX_SESSIONS;
    this.perSecond = options.perSecond ?? TAP_EVENTS_PER_SECOND;
  }

  get index(): number {
    return this.currentIndex;
  }

  list(): TapSession[] {
    return [...this.sessions.values()].map((s) => s.session);
  }

  open(filter: TapFilter, listener: TapListener): TapSession {
    if (this.sessions.size >= this.maxSessions) {
      throw new MeshError('MESH_E_TOO_MANY', `${this.sessions.size} tap sessions are open, the most the server allows`, { hint: 'end another meshctl tap, or try again when one ends' });
    }
    const session: TapSession = { id: randomUUID(), ...filter };
    this.sessions.set(session.id, { session, listener, budgets: new Map() });
    this.counters.sessionsOpened++;
    this.changed();
    return session;
  }

  close(id: string): void {
    if (this.sessions.delete(id)) this.changed();
  }

  /** Resolves when the index passes `index`, after `waitMs`, or on abort. An index from a previous server life answers at once. */
  waitForChange(index: number, waitMs: number, signal: AbortSignal): Promise<void> {
    if (index < 1 || index !== this.currentIndex) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        timer.cancel();
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.clock.after(waitMs, done);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** An agent's batch, from `node` (already authenticated): each event goes to its session if it matches and fits. */
  deliver(node: string, sessions: TapBatch['sessions']): void {
    this.counters.batches++;
    for (const part of sessions) {
      const target = this.sessions.get(part.id);
      const raw = Array.isArray(part.events) ? part.events : [];
      this.counters.eventsReceived += raw.length;
      // A session that just ended: its events have no one to go to.
      if (!target) continue;
      let budget = target.budgets.get(node);
      if (!budget) target.budgets.set(node, (budget = new PerSecondBudget(this.perSecond, this.clock)));
      const kept: TapEvent[] = [];
      let dropped = Number.isSafeInteger(part.dropped) && part.dropped > 0 ? part.dropped : 0;
      for (const candidate of raw) {
        const event = sanitizeTapEvent(candidate, node);
        // An agent of another version might match differently: the server's filter has the last word.
        if (!event || !tapMatches(target.session, event.destination, event.method, event.path)) continue;
        if (budget.take()) kept.push(event);
        else dropped++;
      }
      this.counters.eventsDelivered += kept.length;
      this.counters.eventsDropped += dropped;
      if (dropped > 0) target.listener.dropped(dropped);
      if (kept.length > 0) target.listener.events(kept);
    }
  }

  private changed(): void {
    this.currentIndex++;
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake();
  }
}
