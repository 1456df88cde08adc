// Keeps the tap sink in step with the server: a long poll on the active
// sessions (the server answers as soon as one opens or ends, so an ended
// session stops costing this host at once), and, only while a session is
// active, a send of the sampled events every SEND_INTERVAL_MS. When the
// server cannot be asked, the sink is emptied: nobody may be listening.

import type { Clock, TimerHandle } from '../../lib/clock.ts';
import type { TapBatch, TapSession } from '../../config/tap.ts';
import type { TapSink } from './tap.ts';

export const SEND_INTERVAL_MS = 200;
const POLL_WAIT_MS = 60_000;
const RETRY_MS = [1000, 2000, 5000];

export interface TapServer {
  tapSessions(node: string, index: number, waitMs: number, signal: AbortSignal): Promise<{ index: number; sessions: TapSession[] }>;
  postTapEvents(batch: TapBatch): Promise<void>;
}

export interface TapRunnerStatus {
  sessions: number;
  matched: number;
  sent: number;
  dropped: number;
  batches: number;
  lastError?: string;
}

export class TapRunner {
  private readonly sink: TapSink;
  private readonly server: TapServer;
  private readonly node: string;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private abort: AbortController | undefined;
  private sendTimer: TimerHandle | undefined;
  private index = 0;
  private batches = 0;
  private lastError: string | undefined;

  constructor(options: { sink: TapSink; server: TapServer; node: string; clock: Clock; log: (line: string) => void }) {
    this.sink = options.sink;
    this.server = options.server;
    this.node = options.node;
    this.clock = options.clock;
    this.log = options.log;
  }

  start(): void {
    if (this.abort) return;
    this.abort = new AbortController();
    void this.poll(this.abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    this.sendTimer?.cancel();
    this.sendTimer = undefined;
    this.sink.setSessions([]);
  }

  status(): TapRunnerStatus {
    return { ...this.sink.counters, batches: this.batches, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  private async poll(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const answer = await this.server.tapSessions(this.node, this.index, POLL_WAIT_MS, signal);
        // A restarted server counts again from 1: an index that went back starts over.
        this.index = answer.index < this.index ? 0 : answer.index;
        this.apply(answer.sessions);
        failures = 0;
        this.lastError = undefined;
      } catch (error) {
        if (signal.aborted) return;
        this.apply([]);
        this.index = 0;
        const message = (error as Error).message;
        if (this.lastError !== message) this.log(`tap: cannot read the tap sessions, tapping nothing until it can: ${message}`);
        this.lastError = message;
        await this.sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)] as number, signal);
      }
    }
  }

  private apply(sessions: TapSession[]): void {
    const wasActive = this.sink.isActive;
    this.sink.setSessions(sessions);
    if (sessions.length > 0 && !wasActive) this.log(`tap: ${sessions.length} session(s) active: ${sessions.map((s) => s.service).join(', ')}`);
    if (this.sink.isActive && !this.sendTimer) this.scheduleSend();
  }

  private scheduleSend(): void {
    this.sendTimer = this.clock.after(SEND_INTERVAL_MS, () => {
      void this.send().finally(() => {
        this.sendTimer = undefined;
        if (this.sink.isActive && this.abort) this.scheduleSend();
      });
    });
  }

  private async send(): Promise<void> {
    const batch = this.sink.drain(this.node);
    if (!batch) return;
    try {
      await this.server.postTapEvents(batch);
      this.batches++;
    } catch (error) {
      // Events are a live view: a batch that could not go is not kept for later.
      this.lastError = (error as Error).message;
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.after(ms, () => resolve());
      signal.addEventListener('abort', () => {
        timer.cancel();
        resolve();
      }, { once: true });
    });
  }
}
