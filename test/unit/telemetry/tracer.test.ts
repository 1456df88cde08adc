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
const tracerWith = (exporter: SpanExporter, sampling = 1, extra: { maxQueue?: number } = {}) => new OtlpHopTracer({ endpoint: 'http://collector.invalid/v1/traces', sampling, node: 'host-1', random: () => 0.5, exporter, batchDelayMs: 60_000, ...extra });

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
  assert.deepEqual(tracer.stats, { exported: 2, failed: 0, dropped: 0 });
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
  const tracer = new OtlpHopTracer({ endpoint: 'http://collector.invalid/v1/traces', sampling: 1, node: 'n', random: () => 0, exporter: failing, batchDelayMs: 60_000, maxQueue: 3, log: (l) => lines.push(l) });
  for (let i = 0; i < 5; i++) {
    const h = hop('outbound', 'web', 'api', []);
    beginHop(h, tracer).span!.end(record(h));
  }
  for (const done of waiting.splice(0)) done({ code: ExportResultCode.FAILED, error: new Error('connect ECONNREFUSED') });
  await tracer.shutdown();
  assert.deepEqual(tracer.stats, { exported: 0, failed: 3, dropped: 2 });
  assert.equal(lines.filter((l) => l.includes('failed')).length, 1, `one line per outage: ${lines.join('\n')}`);
});
