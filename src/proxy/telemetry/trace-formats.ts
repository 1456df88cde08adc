// Which trace-context formats a request came in with, and which the forwarded
// request carries. Apps instrument with different libraries: some read and
// write W3C traceparent/tracestate, some Zipkin's B3 (one `b3` header, or the
// older X-B3-* set). A hop keeps the format(s) the request came in with, so
// the next app's library finds what it understands; a request with none is
// the edge of the mesh, and its forwarded request gets W3C and B3 multi (the
// B3 form every Zipkin library reads), so an app with either library
// continues the trace.

import { isSpanContextValid, ROOT_CONTEXT, trace, type Context, type SpanContext, type TextMapGetter, type TextMapPropagator } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';

export type TraceFormat = 'w3c' | 'b3' | 'b3multi';

export const EDGE_FORMATS: readonly TraceFormat[] = Object.freeze(['w3c', 'b3multi']);

const PROPAGATORS: Readonly<Record<TraceFormat, TextMapPropagator>> = Object.freeze({
  w3c: new W3CTraceContextPropagator(),
  b3: new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }),
  b3multi: new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }),
});

/** The header that says a format is present (B3's extract reads both forms, so presence tells them apart). */
const MARKER: Readonly<Record<TraceFormat, string>> = Object.freeze({ w3c: 'traceparent', b3: 'b3', 'b3multi': 'x-b3-traceid' });

/** Every header a propagator reads (lowercase, as the propagators ask for them). */
const TRACE_HEADERS: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags']);
const TRACE_HEADER_LENGTHS: ReadonlySet<number> = new Set([...TRACE_HEADERS].map((name) => name.length));

/** The trace headers among [name, value, name, value…], by lowercase name (the first of a repeated one), or undefined when there are none. */
export function traceHeadersIn(raw: readonly string[]): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // Every request pays this scan, so most names are passed over on their length and first letter (t, b, x) without lowercasing.
    if (!TRACE_HEADER_LENGTHS.has(name.length)) continue;
    const first = name.charCodeAt(0) | 0x20;
    if (first !== 0x74 && first !== 0x62 && first !== 0x78) continue;
    const lower = name.toLowerCase();
    if (!TRACE_HEADERS.has(lower)) continue;
    found ??= {};
    found[lower] ??= raw[i + 1] as string;
  }
  return found;
}

/** Reads the headers traceHeadersIn found: one property lookup per name a propagator asks for. */
const foundGetter: TextMapGetter<Record<string, string>> = {
  get: (found, key) => found[key],
  keys: (found) => Object.keys(found),
};

export interface Incoming {
  /** The caller's span context, when a format carried a valid one (W3C first, then B3 single, then B3 multi). */
  parent?: SpanContext;
  /** The formats the forwarded request must carry: the valid ones it came with, or EDGE_FORMATS. */
  out: readonly TraceFormat[];
}

/** What a request's headers say about its trace: the parent to continue and the formats to forward. */
export function incomingTrace(raw: readonly string[]): Incoming {
  const headers = traceHeadersIn(raw);
  if (!headers) return { out: EDGE_FORMATS };
  const found: TraceFormat[] = [];
  let parent: SpanContext | undefined;
  for (const format of ['w3c', 'b3', 'b3multi'] as const) {
    if (headers[MARKER[format]] === undefined) continue;
    // A b3 single header takes precedence over X-B3-* in B3's own extract; a bare multi set is read when b3 is absent.
    if (format === 'b3multi' && found.includes('b3')) continue;
    const context = trace.getSpanContext(PROPAGATORS[format].extract(ROOT_CONTEXT, headers, foundGetter));
    if (!context || !isSpanContextValid(context)) continue;
    // Two formats naming different traces: the first wins, and the other is rewritten to agree with it.
    found.push(format);
    parent ??= context;
  }
  return parent ? { parent, out: found } : { out: EDGE_FORMATS };
}

/** The headers that carry `context`'s span, in each format, as [name, value] pairs. */
export function traceHeaders(context: Context, formats: readonly TraceFormat[], parentSpanId?: string): Array<[string, string]> {
  const carrier: Record<string, string> = {};
  for (const format of formats) {
    PROPAGATORS[format].inject(context, carrier, { set: (c, key, value) => void (c[key.toLowerCase()] = value) });
  }
  // B3 multi names the parent too; one left from the incoming request would name the wrong one.
  if (formats.includes('b3multi') && parentSpanId) carrier['x-b3-parentspanid'] = parentSpanId;
  return Object.entries(carrier);
}
