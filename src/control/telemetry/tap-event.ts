// An event an agent posted, reduced to the fields of a tap line with the
// types they must have and bounded lengths; anything else is not passed on to
// an operator's terminal. The node is the server's word (from the token
// check), never the agent's. Over-long texts (a path, a request id the caller
// chose) are cut and marked rather than refused: refusing them would let a
// caller hide its requests from tap by making them long. Names (source,
// destination) are not cut: a cut name would be another service's.

import { clipTapText, TAP_PATH_CHARS, TAP_TEXT_CHARS, type TapEvent } from '../../config/tap.ts';

const TIME_CHARS = 64;
const METHOD_CHARS = 32;

export function sanitizeTapEvent(input: unknown, node: string): TapEvent | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const e = input as Record<string, unknown>;
  const clip = (value: unknown, max: number): string | undefined => (typeof value === 'string' ? clipTapText(value, max) : undefined);
  const name = (value: unknown): string | undefined => (typeof value === 'string' && value.length <= TAP_TEXT_CHARS ? value : undefined);
  const direction = e.direction === 'inbound' || e.direction === 'outbound' ? e.direction : undefined;
  const time = typeof e.time === 'string' && e.time.length <= TIME_CHARS ? e.time : undefined;
  const source = name(e.source);
  const destination = name(e.destination);
  const method = clip(e.method, METHOD_CHARS);
  const path = clip(e.path, TAP_PATH_CHARS);
  const endpoint = clip(e.endpoint ?? '', TAP_TEXT_CHARS);
  const requestId = clip(e.requestId ?? '', TAP_TEXT_CHARS);
  const status = typeof e.status === 'number' && Number.isInteger(e.status) && e.status >= 0 && e.status < 1000 ? e.status : undefined;
  const latencyMs = typeof e.latencyMs === 'number' && Number.isFinite(e.latencyMs) && e.latencyMs >= 0 ? e.latencyMs : undefined;
  if (!direction || time === undefined || source === undefined || destination === undefined || method === undefined || path === undefined) return undefined;
  if (endpoint === undefined || requestId === undefined || status === undefined || latencyMs === undefined) return undefined;
  const traceId = clip(e.traceId, TAP_TEXT_CHARS);
  const cause = clip(e.cause, TAP_TEXT_CHARS);
  return { time, node, direction, source, destination, method, path, status, latencyMs, endpoint, requestId, ...(traceId ? { traceId } : {}), ...(cause ? { cause } : {}) };
}
