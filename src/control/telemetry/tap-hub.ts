// The server's side of tap: the open sessions, published to the agents as a
// blocking read (index moves on every open and close, and waiting agents are
// woken at once), and the fan-out of the events agents post to the sessions
// they match. Everything is bounded: TAP_MAX_SESSIONS sessions (at most
// TAP_MAX_SESSIONS_PER_TOKEN per token, and some kept for management tokens,
// so that an agent's token cannot take the operators' slots), and per
// session and node TAP_EVENTS_PER_SECOND events a second, whatever an agent
// sends. A node's events count only for the side of the traffic its own
// proxies see (node-scope.ts): a session id is no licence to speak for
// another host. In memory only: a session lives as long as its HTTP stream,
// which does not outlive the server either.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { MeshError } from '../../lib/errors.ts';
import { PerSecondBudget } from '../../lib/per-second.ts';
import { TAP_EVENTS_PER_SECOND, TAP_MAX_SESSIONS, TAP_MAX_SESSIONS_PER_TOKEN, TAP_SESSIONS_RESERVED_FOR_MANAGEMENT, tapMatches, type TapBatch, type TapEvent, type TapFilter, type TapSession } from '../../config/tap.ts';
import { seenByNode } from './node-scope.ts';
import { sanitizeTapEvent } from './tap-event.ts';

/** Where a session's events go: the stream of the operator who opened it. */
export interface TapListener {
  events(events: TapEvent[]): void;
  /** Matching requests left out (by an agent's sampling or by the server's bound). */
  dropped(count: number): void;
}

/** Who opened a session: the token (its accessor id), and whether it is a management token. */
export interface TapOwner {
  readonly token: string;
  readonly management: boolean;
}

interface HubSession {
  readonly session: TapSession;
  readonly owner: TapOwner;
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
  /** Events for traffic the posting node's proxies cannot have seen: never delivered. */
  eventsRefused: number;
}

export class TapHub {
  private readonly clock: Clock;
  private readonly maxSessions: number;
  private readonly perToken: number;
  private readonly reserved: number;
  private readonly perSecond: number;
  private readonly sessions = new Map<string, HubSession>();
  private waiters = new Set<() => void>();
  private currentIndex = 1;
  readonly counters: TapHubCounters = { sessionsOpened: 0, batches: 0, eventsReceived: 0, eventsDelivered: 0, eventsDropped: 0, eventsRefused: 0 };

  constructor(options: { clock: Clock; maxSessions?: number; perToken?: number; reserved?: number; perSecond?: number }) {
    this.clock = options.clock;
    this.maxSessions = options.maxSessions ?? TAP_MAX_SESSIONS;
    this.perToken = options.perToken ?? TAP_MAX_SESSIONS_PER_TOKEN;
    this.reserved = options.reserved ?? TAP_SESSIONS_RESERVED_FOR_MANAGEMENT;
    this.perSecond = options.perSecond ?? TAP_EVENTS_PER_SECOND;
  }

  get index(): number {
    return this.currentIndex;
  }

  /**
   * The sessions an agent on a node hosting `hosted` must match: every one when the node runs a
   * service, none when it runs nothing. A tapped service's requests are seen by its own hosts'
   * inbound proxies and by every caller's outbound proxy, and which hosts call it is not in the
   * catalog (upstreams are agent config, transparent mode calls anything), so a narrower list
   * would lose the callers' side; what a node may post is checked on delivery instead.
   */
  list(hosted?: ReadonlySet<string>): TapSession[] {
    if (hosted !== undefined && hosted.size === 0) return [];
    return [...this.sessions.values()].map((s) => s.session);
  }

  open(filter: TapFilter, listener: TapListener, owner: TapOwner = { token: '', management: true }): TapSession {
    if (this.sessions.size >= this.maxSessions) {
      throw new MeshError('MESH_E_TOO_MANY', `${this.sessions.size} tap sessions are open, the most the server allows`, { hint: 'end another meshctl tap, or try again when one ends' });
    }
    const held = [...this.sessions.values()];
    const byToken = held.filter((s) => s.owner.token === owner.token).length;
    if (byToken >= this.perToken) {
      throw new MeshError('MESH_E_TOO_MANY', `this token holds ${byToken} tap sessions, the most one token may`, { hint: 'end one of its meshctl tap streams, or tap with another token' });
    }
    const others = held.filter((s) => !s.owner.management).length;
    if (!owner.management && others >= this.maxSessions - this.reserved) {
      throw new MeshError('MESH_E_TOO_MANY', `${others} tap sessions are open with non-management tokens, the most the server allows them (the other ${this.reserved} are kept for management tokens)`, {
        hint: 'tap with a management token, or try again when one ends',
      });
    }
    const session: TapSession = { id: randomUUID(), ...filter };
    this.sessions.set(session.id, { session, owner, listener, budgets: new Map() });
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

  /**
   * An agent's batch, from `node` (already authenticated), which hosts `hosted` (the catalog's word):
   * each event goes to its session if the node's proxies can have seen it, it matches and it fits.
   */
  deliver(node: string, hosted: ReadonlySet<string>, sessions: TapBatch['sessions']): void {
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
        // Malformed: a matching request the operator does not see, so it is counted as left out.
        if (!event) {
          dropped++;
          continue;
        }
        if (!seenByNode(event, hosted)) {
          this.counters.eventsRefused++;
          continue;
        }
        // An agent of another version might match differently: the server's filter has the last word.
        if (!tapMatches(target.session, event.destination, event.method, event.path)) continue;
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
