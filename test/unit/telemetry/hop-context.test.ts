import assert from 'node:assert/strict';
import { test } from 'node:test';
import { beginHop, traceIdOf, withHeaders, type HopStart, type HopTracer } from '../../../src/proxy/telemetry/hop-context.ts';
import { Telemetry, type HttpRecord } from '../../../src/proxy/telemetry/records.ts';

const hop = (rawHeaders: string[]): HopStart => ({ direction: 'outbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/', rawHeaders, startedAt: 0 });
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

test('traceIdOf reads W3C, B3 single and B3 multi, and refuses malformed or all-zero ids', () => {
  const cases: [string[], string | undefined][] = [
    [['traceparent', `00-${TRACE}-00f067aa0ba902b7-01`], TRACE],
    [['TraceParent', `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-00`], TRACE],
    [['traceparent', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`], undefined],
    [['traceparent', `00-${TRACE}-short-01`], undefined],
    [['b3', `${TRACE}-e457b5a2e4d86bd1-1`], TRACE],
    [['b3', 'a3ce929d0e0e4736-e457b5a2e4d86bd1'], `${'0'.repeat(16)}a3ce929d0e0e4736`],
    [['X-B3-TraceId', TRACE, 'X-B3-SpanId', 'e457b5a2e4d86bd1'], TRACE],
    [['x-b3-traceid', 'not-hex'], undefined],
    [[], undefined],
  ];
  for (const [raw, want] of cases) assert.equal(traceIdOf(raw), want, JSON.stringify(raw));
});

test('beginHop keeps a request id it was given and makes one when absent', () => {
  assert.deepEqual(beginHop(hop(['X-Request-Id', 'abc']), undefined), { requestId: 'abc', set: [] });
  assert.deepEqual(beginHop(hop([]), undefined, () => 'made-1'), { requestId: 'made-1', set: [['x-request-id', 'made-1']] });
  assert.deepEqual(beginHop(hop(['x-request-id', 'r'.repeat(129)]), undefined, () => 'made-2'), { requestId: 'made-2', set: [['x-request-id', 'made-2']] }, 'too long: replaced');
  assert.deepEqual(beginHop(hop(['x-request-id', 'has space']), undefined, () => 'made-3'), { requestId: 'made-3', set: [['x-request-id', 'made-3']] }, 'not a token: replaced');
  assert.equal(beginHop(hop(['x-request-id', 'r'.repeat(128)]), undefined).requestId, 'r'.repeat(128), '128 characters are kept');
  assert.deepEqual(beginHop(hop(['traceparent', `00-${TRACE}-00f067aa0ba902b7-01`, 'x-request-id', 'r']), undefined), { requestId: 'r', traceId: TRACE, set: [] });
});

test("beginHop takes the tracer's span: its ids and the headers it forwards", () => {
  const ended: HttpRecord[] = [];
  const tracer: HopTracer = { start: () => ({ traceId: TRACE, spanId: 'b7ad6b7169203331', headers: [['traceparent', `00-${TRACE}-b7ad6b7169203331-01`]], end: (r) => ended.push(r) }) };
  const context = beginHop(hop(['x-request-id', 'r']), tracer);
  assert.equal(context.traceId, TRACE);
  assert.deepEqual(context.set, [['traceparent', `00-${TRACE}-b7ad6b7169203331-01`]]);
  const unsampled: HopTracer = { start: () => undefined };
  assert.equal(beginHop(hop(['x-request-id', 'r']), unsampled).span, undefined);
});

test('withHeaders replaces every header of a set name, whatever its case, and keeps the rest in order', () => {
  const headers = ['Host', 'api', 'TraceParent', 'old', 'accept', '*/*', 'traceparent', 'older'];
  assert.deepEqual(withHeaders(headers, [['traceparent', 'new']]), ['Host', 'api', 'accept', '*/*', 'traceparent', 'new']);
  assert.equal(withHeaders(headers, []), headers);
});

test('Telemetry fans a record out to every sink, and a sink that throws does not stop the others', () => {
  const logged: string[] = [];
  const telemetry = new Telemetry((line) => logged.push(line));
  const got: string[] = [];
  telemetry.add({ http: () => { throw new Error('boom'); } });
  const remove = telemetry.add({ http: (r) => got.push(r.destination) });
  const record = { direction: 'inbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/', status: 200, mtls: true, startedAt: 0, durationMs: 1, requestBytes: 0, responseBytes: 2 } satisfies HttpRecord;
  telemetry.http(record);
  assert.deepEqual(got, ['api']);
  assert.match(logged[0] ?? '', /boom/);
  remove();
  telemetry.http(record);
  assert.deepEqual(got, ['api']);
});
