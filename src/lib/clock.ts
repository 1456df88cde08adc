// Time is injected so that TTL checks, reapers and heartbeats are tested
// without real waits (see test/helpers/fake-clock.ts).

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn once after ms; the timer does not keep the process alive. */
  after(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** A random source in [0, 1), injected for the same reason as the clock. */
export type Random = () => number;
export const systemRandom: Random = Math.random;
