// The OpenTelemetry hop tracer, in process: spans, their parents across hops,
// the headers forwarded, sampling, and an exporter that fails or falls behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { beginHop, withHeaders, type HopStart } from '../../../src/proxy/telemetry/hop-context.ts';
import type { HttpRecord } from '../../../src/proxy/telemetry/records.ts';
import { OtlpHopTracer } from '../../../src/proxy/telemetry/tracer.ts';

const hop = (direction: 'outbound' | 'inbound', source: string, destination: string, rawHeaders: string[]): HopStart => ({ direction, protocol: 'http', source, destination, method: 'GET', path: '/', rawHeaders, startedAt: Date.now() });
const record = (h: HopStart, status = 200): HttpRecord => ({ direction: h.direction, protocol: 'http', source: h.source, destination: h.destination, method: 'GET', path: '/', status, mtls: true, startedAt: h.startedAt, durationMs: 2, requestBytes: 0, responseBytes: 0 });
const tracerWith = (exporter: SpanExporter, sampling = 1, extra: { maxQueue?: number; maxSpansPerSecond?: number; now?: () => number; random?: () => number } = {}) =>
  new OtlpHopTracer({ endpoint: 'http://collector.invalid/v1/traces', sampling, maxSpansPerSecond: 1000, now: () => 0, node: 'host-1', random: () => 0.5, exporter, batchDelayMs: 60_000, ...extra });

test('an edge request: the caller-side span is a root, the callee-side span its child, both formats forwarded', async () => {
  const memory = new InMemorySpanExporter();
  const tracer = tracerWith(memory);
  const out = hop('outbound', 'frontend', 'api', []);
  const client = beginHop(out, tracer, () => 'req-1');
  assert.ok(client.span);
  const forwarded = withHeaders([], client.set);
  const names = forwarded.filter((_, i) => i % 2 === 0);
  assert.deepEqual(names.sort(), ['traceparent', 'x-b3-sampled', 'x-b3-spanid', 'x-b3-traceid', 'x-request-id']);
  const inn = hop('inbound', 'frontend', 'api', forwarded);
  const server = beginHop(inn, tracer);
  assert.equal(server.requestId, 'req-1');
  assert.equal(server.traceId, client.traceId);
  server.span!.end({ ...record(inn), requestId: server.requestId });
  client.span!.end({ ...record(out, 503), requestId: client.requestId });
  await tracer.flush();
  const spans = memory.getFinishedSpans();
  const byKind = (kind: SpanKind) => spans.find((s) => s.kind === kind) as ReadableSpan;
  assert.equal(spans.length, 2);
  assert.equal(byKind(SpanKind.CLIENT).parentSpanContext, undefined);
  assert.equal(byKind(SpanKind.SERVER).parentSpanContext?.spanId, client.span!.spanId);
  assert.equal(byKind(SpanKind.CLIENT).resource.attributes['service.name'], 'frontend');
  assert.equal(byKind(SpanKind.SERVER).resource.attributes['service.name'], 'api');
  assert.equal(byKind(SpanKind.CLIENT).attributes['meshctl.request_id'], 'req-1');
  assert.equal(byKind(SpanKind.CLIENT).status.code, 2);
  assert.deepEqual(tracer.stats, { exported: 2, failed: 0, dropped: 0, overBudget: 0 });
});

test('a B3 single request continues its trace and is forwarded in B3 single only', async () => {
  const memory = new InMemorySpanExporter();
  const tracer = tracerWith(memory, 0);
  const started = beginHop(hop('outbound', 'web', 'api', ['b3', '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1', 'x-request-id', 'r']), tracer);
  assert.deepEqual(started.set.map(([name]) => name), ['b3']);
  assert.match(started.set[0]![1], /^4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-1$/);
  started.span!.end(record(hop('outbound', 'web', 'api', [])));
  await tracer.flush();
  assert.equal(memory.getFinishedSpans()[0]?.parentSpanContext?.spanId, '00f067aa0ba902b7', 'sampled by the parent despite sampling 0');
});

test('a new trace not sampled exports nothing, and forwards the not-sampled decision so later hops agree', async () => {
  const memory = new InMemorySpanExporter();
  const tracer = tracerWith(memory, 0);
  const out = beginHop(hop('outbound', 'web', 'api', []), tracer);
  const traceparent = out.set.find(([name]) => name === 'traceparent')?.[1];
  assert.match(traceparent ?? '', /-00$/);
  out.span!.end(record(hop('outbound', 'web', 'api', [])));
  // The callee's proxy samples new traces at 100%, yet follows the caller's decision.
  const callee = tracerWith(memory, 1);
  const inn = beginHop(hop('inbound', 'web', 'api', withHeaders([], out.set)), callee);
  inn.span!.end(record(hop('inbound', 'web', 'api', [])));
  await tracer.flush();
  await callee.flush();
  assert.equal(memory.getFinishedSpans().length, 0);
});

test('a failing collector fails no request: spans are counted as failed; a full queue drops and counts', async () => {
  // A collector that hangs, then refuses: the queue fills while the first batch is out.
  const waiting: Array<(r: ExportResult) => void> = [];
  const failing: SpanExporter = { export: (_spans, done: (r: ExportResult) => void) => void waiting.push(done), shutdown: async () => {} };
  const lines: string[] = [];
  const tracer = new OtlpHopTracer({ endpoint: 'http://collector.invalid/v1/traces', sampling: 1, maxSpansPerSecond: 1000, now: () => 0, node: 'n', random: () => 0, exporter: failing, batchDelayMs: 60_000, maxQueue: 3, log: (l) => lines.push(l) });
  for (let i = 0; i < 5; i++) {
    const h = hop('outbound', 'web', 'api', []);
    beginHop(h, tracer).span!.end(record(h));
  }
  for (const done of waiting.splice(0)) done({ code: ExportResultCode.FAILED, error: new Error('connect ECONNREFUSED') });
  await tracer.shutdown();
  assert.deepEqual(tracer.stats, { exported: 0, failed: 3, dropped: 2, overBudget: 0 });
  assert.equal(lines.filter((l) => l.includes('failed')).length, 1, `one line per outage: ${lines.join('\n')}`);
});

const FORCED = (traceId: string) => ['traceparent', `00-${traceId}-00f067aa0ba902b7-01`];

test('a caller forcing sampling on every request gets at most the span budget; the hops past it pass its context on whole', async () => {
  const memory = new InMemorySpanExporter();
  let now = 0;
  const tracer = tracerWith(memory, 0, { maxSpansPerSecond: 3, now: () => now });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const forwarded: string[][] = [];
  for (let i = 0; i < 10; i++) {
    const h = hop('outbound', 'web', 'api', ['Host', 'api', ...FORCED(traceId)]);
    const started = beginHop(h, tracer, () => `r-${i}`);
    started.span?.end(record(h));
    assert.equal(started.traceId, traceId, 'every hop names the trace');
    forwarded.push(withHeaders([...h.rawHeaders], started.set));
  }
  const traceparents = forwarded.map((headers) => headers[headers.findIndex((n) => n.toLowerCase() === 'traceparent') + 1]);
  assert.equal(traceparents.filter((t) => t === `00-${traceId}-00f067aa0ba902b7-01`).length, 7, 'over budget: the context goes on as it came, sampled, parented on the caller');
  assert.equal(traceparents.filter((t) => /-01$/.test(t ?? '')).length, 10, 'every request stays sampled downstream');
  now += 1_000;
  const h = hop('outbound', 'web', 'api', FORCED(traceId));
  beginHop(h, tracer).span?.end(record(h));
  await tracer.flush();
  assert.equal(memory.getFinishedSpans().length, 4, 'three spans, then one more a second later');
  assert.deepEqual(tracer.stats, { exported: 4, failed: 0, dropped: 0, overBudget: 7 });
});

test('new traces past the budget are not sampled, and say so downstream', async () => {
  const memory = new InMemorySpanExporter();
  const tracer = tracerWith(memory, 1, { maxSpansPerSecond: 1 });
  const flags = [0, 1].map(() => {
    const h = hop('outbound', 'web', 'api', []);
    const started = beginHop(h, tracer);
    started.span!.end(record(h));
    return started.set.find(([n]) => n === 'traceparent')?.[1].slice(-2);
  });
  await tracer.flush();
  assert.deepEqual(flags, ['01', '00']);
  assert.equal(memory.getFinishedSpans().length, 1);
  assert.equal(tracer.stats.overBudget, 1);
});

test('an unauthenticated inbound caller cannot force sampling: its trace goes on, sampled by the ratio; its not-sampled flag is kept', async () => {
  const memory = new InMemorySpanExporter();
  const traceId = 'a'.repeat(32);
  let roll = 0.5;
  const tracer = tracerWith(memory, 0.1, { random: () => roll });
  const plain = (headers: string[]) => {
    const h = hop('inbound', '', 'api', headers);
    const started = beginHop(h, tracer);
    started.span?.end(record(h));
    return started;
  };
  const refused = plain(FORCED(traceId));
  assert.match(refused.set.find(([n]) => n === 'traceparent')?.[1] ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`), 'the same trace, not sampled');
  roll = 0.05;
  const sampledByRatio = plain(FORCED(traceId));
  assert.match(sampledByRatio.set.find(([n]) => n === 'traceparent')?.[1] ?? '', /-01$/);
  const keptOff = plain(['traceparent', `00-${traceId}-00f067aa0ba902b7-00`]);
  assert.match(keptOff.set.find(([n]) => n === 'traceparent')?.[1] ?? '', /-00$/, 'a lower decision is honoured even when the ratio says yes');
  // A named caller (mTLS) is followed as before.
  const h = hop('inbound', 'web', 'api', FORCED(traceId));
  roll = 0.9;
  beginHop(h, tracer).span!.end(record(h));
  await tracer.flush();
  const spans = memory.getFinishedSpans();
  assert.equal(spans.length, 2, 'the ratio-sampled one and the named caller\'s');
  assert.deepEqual(spans.map((s) => s.parentSpanContext?.spanId), ['00f067aa0ba902b7', '00f067aa0ba902b7'], 'both continue the caller\'s trace');
  assert.deepEqual(spans.map((s) => s.attributes['meshctl.source']), ['', 'web']);
});
