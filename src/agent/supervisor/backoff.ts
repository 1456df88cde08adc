// When the built-in supervisor restarts a crashed agent: at once-ish the
// first time, then doubling, capped; a run that lasted long enough counts as
// healthy and resets the count.

export const FIRST_RESTART_MS = 250;
export const MAX_RESTART_MS = 30_000;
export const HEALTHY_RUN_MS = 30_000;

/** The delay before restart number n (1-based) of a crash-looping agent. */
export function restartDelay(consecutiveCrashes: number): number {
  if (consecutiveCrashes <= 0) return 0;
  return Math.min(MAX_RESTART_MS, FIRST_RESTART_MS * 2 ** (consecutiveCrashes - 1));
}

/** The crash count after a run of runMs. */
export function nextCrashCount(previous: number, runMs: number): number {
  return runMs >= HEALTHY_RUN_MS ? 1 : previous + 1;
}
