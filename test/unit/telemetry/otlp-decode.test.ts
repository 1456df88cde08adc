// The test collector's decoder reads what OpenTelemetry's own OTLP protobuf
// serializer (the one the exporter sends with) writes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { decodeTraceRequest } from '../../helpers/otlp-decode.ts';

test("decodeTraceRequest reads ProtobufTraceSerializer's request: ids, parent, kind, attributes, status, resource", async () => {
  const memory = new InMemorySpanExporter();
  // The simple processor exports on a later turn: flushed before the spans are read.
  const processor = new SimpleSpanProcessor({ exporter: memory });
  const spansOf = (service: string) => new TracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [processor] }).getTracer('t');
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const a = spansOf('frontend').startSpan('GET api', { kind: SpanKind.CLIENT, startTime: 1_000 }, parent);
  a.setAttributes({ 'http.response.status_code': 503, 'meshctl.mtls': true, 'meshctl.route': 'canary', ratio: 0.5, list: ['x', 'y'] });
  a.setStatus({ code: SpanStatusCode.ERROR, message: 'no_healthy_endpoints' });
  a.end(1_004);
  const b = spansOf('api').startSpan('GET api', { kind: SpanKind.SERVER }, trace.setSpan(ROOT_CONTEXT, a));
  b.end();
  await processor.forceFlush();
  const body = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans());
  assert.ok(body);
  const spans = decodeTraceRequest(body);
  assert.equal(spans.length, 2);
  const [client, server] = spans as [NonNullable<(typeof spans)[0]>, NonNullable<(typeof spans)[0]>];
  assert.deepEqual(
    { service: client.service, traceId: client.traceId, parent: client.parentSpanId, kind: client.kind, name: client.name, status: client.status, attributes: client.attributes },
    {
      service: 'frontend', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parent: '00f067aa0ba902b7', kind: 'CLIENT', name: 'GET api',
      status: { code: 'ERROR', message: 'no_healthy_endpoints' },
      attributes: { 'http.response.status_code': 503, 'meshctl.mtls': true, 'meshctl.route': 'canary', ratio: 0.5, list: ['x', 'y'] },
    },
  );
  assert.equal(client.spanId, a.spanContext().spanId);
  assert.equal(client.endTimeUnixNano - client.startTimeUnixNano, 4_000_000n);
  assert.deepEqual({ service: server.service, parent: server.parentSpanId, kind: server.kind, status: server.status.code }, { service: 'api', parent: client.spanId, kind: 'SERVER', status: 'UNSET' });
});
