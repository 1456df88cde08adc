// The rolling history behind the sparklines: one point per refresh per
// service, kept client-side (the API answers one window at a time). Pure:
// each refresh makes a new History from the old one and the answer.

import type { StatsAnswer } from '../lib/stats/answer.ts';

export interface Series {
  rps: (number | null)[];
  success: (number | null)[];
  p99: (number | null)[];
}

export interface History {
  readonly maxPoints: number;
  readonly services: ReadonlyMap<string, Series>;
}

/** 10 minutes of points at the default 1 s refresh; wider than any terminal. */
export const DEFAULT_MAX_POINTS = 600;

export function emptyHistory(maxPoints = DEFAULT_MAX_POINTS): History {
  return { maxPoints, services: new Map() };
}

const push = <T>(values: readonly T[], value: T, max: number): T[] => [...values.slice(Math.max(0, values.length + 1 - max)), value];

/** Adds one point per service in the answer; a service new to the history starts with that point. */
export function withAnswer(history: History, answer: StatsAnswer): History {
  const services = new Map<string, Series>();
  for (const s of answer.services) {
    const before = history.services.get(s.service) ?? { rps: [], success: [], p99: [] };
    services.set(s.service, {
      rps: push(before.rps, s.rps, history.maxPoints),
      success: push(before.success, s.successRate, history.maxPoints),
      p99: push(before.p99, s.latencyMs?.p99 ?? null, history.maxPoints),
    });
  }
  // A service gone from the catalog is dropped with its history.
  return { maxPoints: history.maxPoints, services };
}

/** A refresh that failed: a gap in every series, so the sparklines show the outage. */
export function withGap(history: History): History {
  const services = new Map<string, Series>();
  for (const [name, s] of history.services) {
    services.set(name, { rps: push(s.rps, null, history.maxPoints), success: push(s.success, null, history.maxPoints), p99: push(s.p99, null, history.maxPoints) });
  }
  return { maxPoints: history.maxPoints, services };
}
