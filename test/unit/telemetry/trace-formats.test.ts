// Which trace headers a hop reads, and which the forwarded request carries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { incomingTrace, traceHeaders, traceHeadersIn, type TraceFormat } from '../../../src/proxy/telemetry/trace-formats.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const OTHER = 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb';
const SPAN = '00f067aa0ba902b7';

test('the incoming formats decide the parent and the formats forwarded', () => {
  const cases: Array<{ name: string; raw: string[]; parent?: { traceId: string; spanId: string; sampled: boolean }; out: TraceFormat[] }> = [
    { name: 'none: the edge, W3C and B3 multi out', raw: [], out: ['w3c', 'b3multi'] },
    { name: 'W3C sampled', raw: ['traceparent', `00-${TRACE}-${SPAN}-01`], parent: { traceId: TRACE, spanId: SPAN, sampled: true }, out: ['w3c'] },
    { name: 'W3C not sampled', raw: ['TraceParent', `00-${TRACE}-${SPAN}-00`], parent: { traceId: TRACE, spanId: SPAN, sampled: false }, out: ['w3c'] },
    { name: 'malformed W3C is the edge', raw: ['traceparent', `00-${TRACE}-xyz-01`], out: ['w3c', 'b3multi'] },
    { name: 'all-zero W3C trace id is the edge', raw: ['traceparent', `00-${'0'.repeat(32)}-${SPAN}-01`], out: ['w3c', 'b3multi'] },
    { name: 'B3 single', raw: ['b3', `${TRACE}-${SPAN}-1`], parent: { traceId: TRACE, spanId: SPAN, sampled: true }, out: ['b3'] },
    { name: 'B3 single, 64-bit trace id, padded', raw: ['b3', `a3ce929d0e0e4736-${SPAN}-0`], parent: { traceId: `${'0'.repeat(16)}a3ce929d0e0e4736`, spanId: SPAN, sampled: false }, out: ['b3'] },
    { name: 'B3 multi', raw: ['X-B3-TraceId', TRACE, 'X-B3-SpanId', SPAN, 'X-B3-Sampled', '1'], parent: { traceId: TRACE, spanId: SPAN, sampled: true }, out: ['b3multi'] },
    { name: 'B3 multi debug flag samples', raw: ['x-b3-traceid', TRACE, 'x-b3-spanid', SPAN, 'x-b3-flags', '1'], parent: { traceId: TRACE, spanId: SPAN, sampled: true }, out: ['b3multi'] },
    { name: 'W3C and B3 multi: both forwarded, W3C is the parent', raw: ['traceparent', `00-${TRACE}-${SPAN}-01`, 'x-b3-traceid', OTHER, 'x-b3-spanid', 'e457b5a2e4d86bd1', 'x-b3-sampled', '1'], parent: { traceId: TRACE, spanId: SPAN, sampled: true }, out: ['w3c', 'b3multi'] },
    { name: 'broken W3C, good B3: B3 is the parent, only B3 forwarded', raw: ['traceparent', 'garbage', 'b3', `${TRACE}-${SPAN}-1`], parent: { traceId: TRACE, spanId: SPAN, sampled: true }, out: ['b3'] },
  ];
  for (const c of cases) {
    const got = incomingTrace(c.raw);
    assert.deepEqual(got.out, c.out, c.name);
    const parent = got.parent ? { traceId: got.parent.traceId, spanId: got.parent.spanId, sampled: (got.parent.traceFlags & TraceFlags.SAMPLED) === 1 } : undefined;
    assert.deepEqual(parent, c.parent, c.name);
  }
});

test('traceHeaders writes the span in each format asked for, with tracestate and the B3 parent', () => {
  const span = trace.wrapSpanContext({ traceId: TRACE, spanId: 'e457b5a2e4d86bd1', traceFlags: TraceFlags.SAMPLED, isRemote: false });
  const context = trace.setSpan(ROOT_CONTEXT, span);
  assert.deepEqual(Object.fromEntries(traceHeaders(context, ['w3c', 'b3multi'], SPAN)), {
    traceparent: `00-${TRACE}-e457b5a2e4d86bd1-01`,
    'x-b3-traceid': TRACE,
    'x-b3-spanid': 'e457b5a2e4d86bd1',
    'x-b3-sampled': '1',
    'x-b3-parentspanid': SPAN,
  });
  assert.deepEqual(traceHeaders(context, ['b3']), [['b3', `${TRACE}-e457b5a2e4d86bd1-1`]]);
  const unsampled = trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ traceId: TRACE, spanId: 'e457b5a2e4d86bd1', traceFlags: TraceFlags.NONE }));
  assert.deepEqual(traceHeaders(unsampled, ['w3c']), [['traceparent', `00-${TRACE}-e457b5a2e4d86bd1-00`]], 'a not-sampled decision travels on');
  // tracestate read from the caller is written back out.
  const withState = incomingTrace(['traceparent', `00-${TRACE}-${SPAN}-01`, 'tracestate', 'vendor=abc']);
  const child = trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ ...withState.parent!, spanId: 'e457b5a2e4d86bd1', isRemote: false }));
  assert.deepEqual(Object.fromEntries(traceHeaders(child, withState.out)), { traceparent: `00-${TRACE}-e457b5a2e4d86bd1-01`, tracestate: 'vendor=abc' });
});

test('traceHeadersIn picks out the trace headers by lowercase name, the first of a repeated one, and nothing else', () => {
  const common = ['Host', 'api', 'User-Agent', 'curl/8', 'Accept', '*/*', 'Content-Type', 'application/json', 'X-Forwarded-For', '1.2.3.4', 'Transfer-Encoding', 'chunked', 'tracestatex', 'no', 'b', 'no', 'B4', 'no'];
  assert.equal(traceHeadersIn(common), undefined, 'no trace header: nothing made');
  assert.deepEqual(traceHeadersIn([...common, 'TraceParent', 'first', 'traceparent', 'second', 'TRACESTATE', 'k=v', 'B3', 'b', 'X-B3-TraceId', 't', 'x-b3-SpanId', 's', 'X-B3-ParentSpanId', 'p', 'X-B3-Sampled', '1', 'X-B3-Flags', '1']), {
    traceparent: 'first', tracestate: 'k=v', b3: 'b', 'x-b3-traceid': 't', 'x-b3-spanid': 's', 'x-b3-parentspanid': 'p', 'x-b3-sampled': '1', 'x-b3-flags': '1',
  });
  assert.deepEqual(incomingTrace(['TRACEPARENT', `00-${TRACE}-${SPAN}-01`, 'traceparent', `00-${OTHER}-${SPAN}-01`]).parent?.traceId, TRACE, 'the first of two traceparents, as before');
});
