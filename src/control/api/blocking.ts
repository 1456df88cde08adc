// Consul's blocking queries: ?index=N&wait=D holds the request until the
// result's index passes N or the wait (Go duration, default 5m, at most 10m,
// plus up to wait/16 of jitter so watchers don't return in step) runs out.
// A wait that runs out answers 200 with the same index. The index is never 0.

import { parseGoDuration } from '../../lib/duration.ts';
import { badRequest } from '../../lib/errors.ts';
import type { Random } from '../../lib/clock.ts';
import type { Store, WatchSpec } from '../store/store.ts';
import type { Permission } from '../acl/policy.ts';
import type { Reply, RequestContext } from './context.ts';

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;

export interface BlockingParams {
  index: number;
  waitMs: number;
}

export function parseBlockingParams(query: URLSearchParams): BlockingParams {
  const indexText = query.get('index');
  let index = 0;
  if (indexText !== null && indexText !== '') {
    if (!/^\d+$/.test(indexText) || !Number.isSafeInteger(Number(indexText))) throw badRequest('Invalid index');
    index = Number(indexText);
  }
  let waitMs = DEFAULT_WAIT_MS;
  const waitText = query.get('wait');
  if (waitText !== null && waitText !== '') {
    const parsed = parseGoDuration(waitText);
    if (parsed === undefined || parsed < 0) throw badRequest('Invalid wait time');
    waitMs = Math.min(parsed, MAX_WAIT_MS);
  }
  return { index, waitMs };
}

/** The wait with Consul's jitter: up to wait/16 more. */
export const jitteredWait = (waitMs: number, random: Random): number => waitMs + Math.floor(random() * (waitMs / 16));

/**
 * The items of a list the token may read, and Consul's mark when ACLs trimmed
 * it (X-Consul-Results-Filtered-By-ACLs): a client can tell "none" from "none
 * you may see". Give it only what the query would have listed.
 */
export function readableBy<T>(ctx: Pick<RequestContext, 'can'>, items: readonly T[], permissionOf: (item: T) => Permission): { visible: T[]; headers: Record<string, string> } {
  const visible = items.filter((item) => ctx.can(permissionOf(item)));
  return { visible, headers: visible.length < items.length ? { 'X-Consul-Results-Filtered-By-ACLs': 'true' } : {} };
}

export function indexHeaders(index: number): Record<string, string | number> {
  return {
    'X-Consul-Index': Math.max(1, index),
    'X-Consul-KnownLeader': 'true',
    'X-Consul-LastContact': 0,
  };
}

/**
 * Runs a read as a blocking query over the topics in spec. compute() builds
 * the reply from the state current after the wait.
 */
export async function blockingRead(
  ctx: RequestContext,
  store: Store,
  spec: WatchSpec,
  random: Random,
  compute: () => Reply,
): Promise<Reply> {
  const { index, waitMs } = parseBlockingParams(ctx.query);
  if (index > 0) await store.waitForChange(spec, index, jitteredWait(waitMs, random), ctx.signal);
  const reply = compute();
  return { ...reply, headers: { ...reply.headers, ...indexHeaders(store.topicIndex(spec)) } };
}
