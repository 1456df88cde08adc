// One operator's tap stream: event lines as NDJSON, `{"dropped":N}` lines
// when matching requests were left out, and the end after `limit` events.
// A reader slower than the traffic does not make the server buffer: while
// the socket is full, events are counted as dropped instead, and the count
// is written once it drains.

import type { TapEvent } from '../../config/tap.ts';
import type { TapListener } from './tap-hub.ts';

/** What the stream writes to: an http.ServerResponse, or a test's stand-in. */
export interface LineSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export class TapStream implements TapListener {
  private readonly limit: number;
  private readonly onDone: () => void;
  private out: LineSink | undefined;
  private blocked = false;
  private pendingDropped = 0;
  private written = 0;
  private done = false;

  /** limit 0: no limit. onDone runs once, after the limit-th event is written. */
  constructor(options: { limit: number; onDone: () => void }) {
    this.limit = options.limit;
    this.onDone = options.onDone;
  }

  /** Events before attach (the response is not open yet) count as dropped. */
  attach(out: LineSink): void {
    this.out = out;
    this.flushDropped();
  }


  events(events: TapEvent[]): void {
    for (const event of events) {
      if (this.done) return;
      if (!this.out || this.blocked) {
        this.pendingDropped++;
        continue;
      }
      this.write(`${JSON.stringify(event)}\n`);
      this.written++;
      if (this.limit > 0 && this.written >= this.limit) {
        this.done = true;
        this.onDone();
      }
    }
  }

  dropped(count: number): void {
    if (this.done) return;
    this.pendingDropped += count;
    this.flushDropped();
  }

  private flushDropped(): void {
    if (this.done || !this.out || this.blocked || this.pendingDropped === 0) return;
    const count = this.pendingDropped;
    this.pendingDropped = 0;
    this.write(`${JSON.stringify({ dropped: count })}\n`);
  }

  private write(line: string): void {
    const out = this.out as LineSink;
    if (out.write(line)) return;
    this.blocked = true;
    out.once('drain', () => {
      this.blocked = false;
      this.flushDropped();
    });
  }
}
