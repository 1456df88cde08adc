// The per-request context every HTTP hop carries: a request id (x-request-id,
// made when the request arrives without one, as Envoy does), and the trace
// the hop belongs to. The tracer (src/proxy/telemetry/tracer.ts when tracing
// is configured) starts one span per hop and says which trace headers the
// forwarded request must carry; without one, the ids already on the request
// are read so the access log can still name the trace.

import { randomUUID } from 'node:crypto';
import type { Direction, HttpRecord } from './records.ts';

export const REQUEST_ID = 'x-request-id';
/** Visible ASCII, at most 128 characters: UUIDs, ULIDs, Envoy's and most apps' ids fit. */
const SANE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export interface HopStart {
  direction: Direction;
  protocol: HttpRecord['protocol'];
  source: string;
  destination: string;
  method: string;
  path: string;
  /** The request's headers as received, [name, value, name, value…]. */
  rawHeaders: readonly string[];
  startedAt: number;
}

/** One hop's span: the ids it has, the headers to forward, and its end (given the finished record). */
export interface HopSpan {
  traceId: string;
  spanId: string;
  /** Header names (lowercase) and values to set on the forwarded request, replacing any of the same name. */
  headers: readonly (readonly [string, string])[];
  end(record: HttpRecord): void;
}

export interface HopTracer {
  /**
   * A span for this hop (a non-recording one when not sampled, so the
   * not-sampled flag is forwarded), or undefined when tracing is off or the
   * hop is left out of its trace (over the span budget): the request then
   * goes on with the trace headers it came with.
   */
  start(hop: HopStart): HopSpan | undefined;
}

export interface HopContext {
  requestId: string;
  traceId?: string;
  span?: HopSpan;
  /** Headers to set on the forwarded request (the request id when it was made here, the trace headers). */
  set: (readonly [string, string])[];
}

/** The hop's context: the request id (made if absent) and the span, if the tracer starts one. */
export function beginHop(hop: HopStart, tracer: HopTracer | undefined, newId: () => string = randomUUID): HopContext {
  const set: (readonly [string, string])[] = [];
  let requestId = headerOf(hop.rawHeaders, REQUEST_ID);
  // One the caller made is kept when it is a sane id; anything else (8 kB of it, spaces, controls) is replaced,
  // so no caller can blow up every log line, span and tap event downstream.
  if (!requestId || !SANE_REQUEST_ID.test(requestId)) {
    requestId = newId();
    set.push([REQUEST_ID, requestId]);
  }
  const span = tracer?.start(hop);
  if (span) {
    set.push(...span.headers);
    return { requestId, traceId: span.traceId, span, set };
  }
  const traceId = traceIdOf(hop.rawHeaders);
  return traceId ? { requestId, traceId, set } : { requestId, set };
}

/** `headers` with each name in `set` replaced by the given value (names compared case-insensitively). */
export function withHeaders(headers: string[], set: readonly (readonly [string, string])[]): string[] {
  if (set.length === 0) return headers;
  // One to three names: a scan beats building a set for every request. The names set are lowercase.
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = (headers[i] as string).toLowerCase();
    let replaced = false;
    for (const [setName] of set) if (setName === name) replaced = true;
    if (!replaced) out.push(headers[i] as string, headers[i + 1] as string);
  }
  for (const [name, value] of set) out.push(name, value);
  return out;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const B3_SINGLE = /^([0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}/;
const B3_TRACE_ID = /^([0-9a-f]{16}|[0-9a-f]{32})$/;

/** The trace id a request already carries: W3C traceparent, B3 single, or B3 multi (X-B3-TraceId). */
export function traceIdOf(raw: readonly string[]): string | undefined {
  const traceparent = headerOf(raw, 'traceparent');
  const w3c = traceparent && TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (w3c && !/^0+$/.test(w3c[1] as string)) return w3c[1];
  const single = headerOf(raw, 'b3');
  const b3 = single && B3_SINGLE.exec(single.trim().toLowerCase());
  if (b3) return (b3[1] as string).padStart(32, '0');
  const multi = headerOf(raw, 'x-b3-traceid');
  const id = multi && B3_TRACE_ID.exec(multi.trim().toLowerCase());
  return id ? (id[1] as string).padStart(32, '0') : undefined;
}

function headerOf(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).length === name.length && (raw[i] as string).toLowerCase() === name) return raw[i + 1];
  return undefined;
}
