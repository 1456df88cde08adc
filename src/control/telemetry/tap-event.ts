// An event an agent posted, reduced to the fields of a tap line with the
// types they must have and bounded lengths; anything else is not passed on to
// an operator's terminal. The node is the server's word (from the token
// check), never the agent's.

import type { TapEvent } from '../../config/tap.ts';

const SHORT = 256;
const LONG = 2048;

export function sanitizeTapEvent(input: unknown, node: string): TapEvent | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const e = input as Record<string, unknown>;
  const text = (value: unknown, max: number): string | undefined => (typeof value === 'string' && value.length <= max ? value : undefined);
  const direction = e.direction === 'inbound' || e.direction === 'outbound' ? e.direction : undefined;
  const time = text(e.time, 64);
  const source = text(e.source, SHORT);
  const destination = text(e.destination, SHORT);
  const method = text(e.method, 32);
  const path = text(e.path, LONG);
  const endpoint = text(e.endpoint ?? '', SHORT);
  const requestId = text(e.requestId ?? '', SHORT);
  const status = typeof e.status === 'number' && Number.isInteger(e.status) && e.status >= 0 && e.status < 1000 ? e.status : undefined;
  const latencyMs = typeof e.latencyMs === 'number' && Number.isFinite(e.latencyMs) && e.latencyMs >= 0 ? e.latencyMs : undefined;
  if (!direction || time === undefined || source === undefined || destination === undefined || method === undefined || path === undefined) return undefined;
  if (endpoint === undefined || requestId === undefined || status === undefined || latencyMs === undefined) return undefined;
  const traceId = text(e.traceId, SHORT);
  const cause = text(e.cause, SHORT);
  return { time, node, direction, source, destination, method, path, status, latencyMs, endpoint, requestId, ...(traceId ? { traceId } : {}), ...(cause ? { cause } : {}) };
}
