// Runs a read every interval on an injected clock: the next read starts
// `intervalMs` after the previous one started, or at once when it took
// longer (reads never overlap). `now()` reads at once (a key asked for it)
// and restarts the interval from there.

import type { Clock, TimerHandle } from '../lib/clock.ts';

export interface Poller {
  /** Reads now (after the read in flight, if any). */
  now(): void;
  stop(): void;
}

export function startPoller(clock: Clock, intervalMs: number, read: () => Promise<void>): Poller {
  let timer: TimerHandle | undefined;
  let running = false;
  let again = false;
  let stopped = false;

  const schedule = (ms: number) => {
    timer?.cancel();
    if (!stopped) timer = clock.after(Math.max(0, ms), tick);
  };

  async function tick(): Promise<void> {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    timer?.cancel();
    const started = clock.now();
    try {
      await read();
    } catch {
      // read() reports its own failures (the status line); the poller only keeps time.
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      schedule(0);
    } else schedule(intervalMs - (clock.now() - started));
  }

  schedule(0);
  return {
    now: () => void tick(),
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
