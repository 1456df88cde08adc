// The sample app's decisions, pure: which headers a hop passes on (so the
// proxies' traces join up across hops), what each role does with a request,
// and how many requests the traffic generator owes at a given moment.
// app.ts and traffic.ts are the thin processes around them.

import type { IncomingHttpHeaders } from 'node:http';
import type { Random } from '../lib/clock.ts';
import type { Role } from './plan.ts';

/** W3C trace context, B3 (single and multi) and the request id: what an app must copy onto its own outgoing call. */
export const PROPAGATED_HEADERS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'x-request-id'] as const;

export function forwardedHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value = incoming[name];
    if (typeof value === 'string') out[name] = value;
    else if (Array.isArray(value) && value[0] !== undefined) out[name] = value[0];
  }
  return out;
}

/** The path each caller asks its downstream for. */
export const DOWNSTREAM_PATH: Readonly<Record<Role, string | undefined>> = { traffic: '/', frontend: '/items', api: '/query', db: undefined };

export type Decision =
  | { kind: 'answer'; status: number; body: Record<string, unknown> }
  | { kind: 'call'; path: string };

/**
 * What a role does with a request. /health always answers; db fails
 * `errorRate` of its queries with 500 (drawn from the seeded source);
 * frontend and api call their downstream.
 */
export function decide(role: Role, path: string, options: { version?: string; errorRate: number; random: Random }): Decision {
  const who = { service: role, ...(options.version ? { version: options.version } : {}) };
  if (path === '/health') return { kind: 'answer', status: 200, body: { ...who, healthy: true } };
  if (role === 'db') {
    if (options.random() < options.errorRate) return { kind: 'answer', status: 500, body: { ...who, error: 'seeded failure (the demo db fails a fixed share of queries)' } };
    return { kind: 'answer', status: 200, body: { ...who, rows: 3 } };
  }
  const downstream = DOWNSTREAM_PATH[role];
  if (downstream === undefined) return { kind: 'answer', status: 404, body: { ...who, error: `no route for ${path}` } };
  return { kind: 'call', path: downstream };
}

/**
 * The answer once the downstream has answered (or failed, status 0). A
 * downstream 5xx becomes a 500 here rather than a 502: the proxies retry
 * gateway errors, which would hide the db's failures the demo wants seen.
 */
export function combine(role: Role, version: string | undefined, downstream: { status: number; body: unknown }): { status: number; body: Record<string, unknown> } {
  const who = { service: role, ...(version ? { version } : {}) };
  if (downstream.status >= 200 && downstream.status < 400) return { status: 200, body: { ...who, downstream: downstream.body } };
  return { status: 500, body: { ...who, error: downstream.status === 0 ? 'downstream unreachable' : `downstream answered ${downstream.status}`, downstream: downstream.body } };
}

/** How many requests are due now at `rate` per second since the start, given how many were sent: a steady rate without drift. */
export function dueRequests(elapsedMs: number, rate: number, sent: number): number {
  return Math.max(0, Math.floor((elapsedMs * rate) / 1000) - sent);
}
