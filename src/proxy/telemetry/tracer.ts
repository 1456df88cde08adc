// The HopTracer on the OpenTelemetry JS SDK: one span per proxy hop, exported
// over OTLP/HTTP (protobuf) to the configured collector.
//
// - Context: read from W3C traceparent/tracestate, B3 single or B3 multi
//   (trace-formats.ts); the forwarded request carries the new span as parent,
//   in the format(s) it came in, or W3C and B3 at the edge of the mesh.
// - Sampling: parent-based with the configured ratio for new traces
//   (trace-sampler.ts). An unsampled hop still forwards its (unsampled)
//   context, so the hops after it make the same decision instead of each
//   rolling the dice again and exporting fragments of traces. A caller with
//   no certificate cannot force sampling, and recorded spans are capped per
//   second (lib/per-second.ts); trace-sampler.ts says why and what an
//   over-budget hop forwards.
// - Resources: one per local service (service.name = the app the proxy acts
//   for: the caller at the outbound stage, the callee at the inbound stage).
//   A trace viewer then shows the hops as frontend → api → db, the way it
//   shows spans from the apps' own instrumentation, rather than one
//   "meshctl" service per host; the node is on every span (meshctl.node).
//   The SDK ties a resource to a provider, so each local service gets a
//   provider, and all of them share one span processor and exporter.
// - Export: a BatchSpanProcessor with a bounded queue. A collector that is
//   down or slow never fails or slows a request: spans past the bound are
//   dropped and counted, failed exports are counted and logged once per
//   outage.

import { ROOT_CONTEXT, trace, TraceFlags, type Span, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { HopSpan, HopStart, HopTracer } from './hop-context.ts';
import type { HttpRecord } from './records.ts';
import { kindOf, localService, spanName, spanShape } from './span-attributes.ts';
import { incomingTrace, traceHeaders } from './trace-formats.ts';
import { PerSecondBudget } from '../../lib/per-second.ts';
import { decide, DECISION, DecidedSampler } from './trace-sampler.ts';

export interface OtlpTracerOptions {
  /** The collector's OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  endpoint: string;
  /** The ratio of new traces sampled, 0..1. */
  sampling: number;
  /** Spans recorded per second at most, sampled or forced by a caller (the burst is one second's worth). */
  maxSpansPerSecond: number;
  /** Milliseconds, for the span budget. */
  now: () => number;
  /** This host's node name, on every span. */
  node: string;
  random: () => number;
  log?: (line: string) => void;
  /** Replaces the OTLP exporter (tests). */
  exporter?: SpanExporter;
  /** Spans waiting for export at most; more are dropped and counted. Default 2048. */
  maxQueue?: number;
  /** How often a batch is sent. Default 1 s: spans show up in the viewer soon after the request. */
  batchDelayMs?: number;
}

export interface TracerStats {
  exported: number;
  /** Spans in batches the collector did not take (refused, unreachable, timed out). */
  failed: number;
  /** Spans dropped because the queue was full. */
  dropped: number;
  /** Spans not recorded because the span budget (maxSpansPerSecond) was spent. */
  overBudget: number;
}

const EXPORT_TIMEOUT_MS = 5_000;
/** How long stop() waits for the last spans to go out: a dead collector must not hold up an agent's stop. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

export class OtlpHopTracer implements HopTracer {
  private readonly options: OtlpTracerOptions;
  private readonly tracers = new Map<string, Tracer>();
  private readonly processor: SpanProcessor;
  private readonly sampler = new DecidedSampler();
  private readonly counts: Omit<TracerStats, 'overBudget'> = { exported: 0, failed: 0, dropped: 0 };
  private readonly budget: PerSecondBudget;
  /** Spans handed to the batch processor and not yet exported or failed. */
  private pending = 0;
  private readonly maxQueue: number;
  private failing = false;
  private readonly take: () => boolean;

  constructor(options: OtlpTracerOptions) {
    this.options = options;
    this.maxQueue = options.maxQueue ?? 2048;
    this.budget = new PerSecondBudget(options.maxSpansPerSecond, { now: options.now });
    this.take = () => this.budget.take();
    const exporter = options.exporter ?? new OTLPTraceExporter({ url: options.endpoint, timeoutMillis: EXPORT_TIMEOUT_MS });
    const batch = new BatchSpanProcessor({
      exporter: this.counting(exporter),
      // The bound is enforced below, where drops are counted; the SDK's own never fills.
      maxQueueSize: this.maxQueue,
      maxExportBatchSize: Math.min(512, this.maxQueue),
      scheduledDelayMillis: options.batchDelayMs ?? 1_000,
      exportTimeoutMillis: EXPORT_TIMEOUT_MS + 1_000,
    });
    this.processor = this.bounded(batch);
  }

  start(hop: HopStart): HopSpan | undefined {
    const incoming = incomingTrace(hop.rawHeaders);
    const parent = incoming.parent ? { sampled: (incoming.parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED } : undefined;
    const trusted = hop.direction === 'outbound' || hop.source !== '';
    const decision = decide({ parent, trusted, ratio: this.options.sampling, random: this.options.random, take: this.take });
    // Left out of the trace: the request goes on with the headers it came with (see trace-sampler.ts).
    if (decision === 'pass') return undefined;
    const decided = (incoming.parent ? trace.setSpanContext(ROOT_CONTEXT, incoming.parent) : ROOT_CONTEXT).setValue(DECISION, decision === 'record');
    const span = this.tracerFor(localService(hop.direction, hop.source, hop.destination)).startSpan(
      spanName(hop.method, hop.destination),
      { kind: kindOf(hop.direction), startTime: hop.startedAt },
      decided,
    );
    const ids = span.spanContext();
    const node = this.options.node;
    return {
      traceId: ids.traceId,
      spanId: ids.spanId,
      headers: traceHeaders(trace.setSpan(ROOT_CONTEXT, span), incoming.out, incoming.parent?.spanId),
      end: (record: HttpRecord) => endSpan(span, record, node),
    };
  }

  get stats(): TracerStats {
    return { ...this.counts, overBudget: this.budget.refused };
  }

  /** Sends what is queued now (tests, and an agent that wants its spans out before it moves on). */
  async flush(): Promise<void> {
    await this.processor.forceFlush().catch(() => {});
  }

  /** Sends what is queued, then stops (bounded in time). Spans that end later are not exported. */
  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS)));
    await Promise.race([this.processor.shutdown().catch((error: Error) => this.options.log?.(`tracing: the last spans were not exported: ${error.message}`)), late]);
    clearTimeout(timer);
  }

  private tracerFor(service: string): Tracer {
    let tracer = this.tracers.get(service);
    if (!tracer) {
      const provider = new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': service, 'host.name': this.options.node }),
        sampler: this.sampler,
        spanProcessors: [this.processor],
      });
      tracer = provider.getTracer('meshctl-proxy');
      this.tracers.set(service, tracer);
    }
    return tracer;
  }

  /** The exporter, counting what it sent and what failed, and saying once when the collector stops (and starts) taking spans. */
  private counting(exporter: SpanExporter): SpanExporter {
    return {
      export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => {
        exporter.export(spans, (result) => {
          this.pending -= spans.length;
          if (result.code === ExportResultCode.SUCCESS) {
            this.counts.exported += spans.length;
            if (this.failing) this.options.log?.(`tracing: the collector at ${this.options.endpoint} takes spans again`);
            this.failing = false;
          } else {
            this.counts.failed += spans.length;
            if (!this.failing) this.options.log?.(`tracing: exporting spans to ${this.options.endpoint} failed (${result.error?.message ?? 'refused'}); spans are dropped and counted until it works`);
            this.failing = true;
          }
          done(result);
        });
      },
      shutdown: () => exporter.shutdown(),
      forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
    };
  }

  /** The batch processor behind a bound of its own, so a drop is counted here. */
  private bounded(batch: SpanProcessor): SpanProcessor {
    return {
      onStart: (span, context) => batch.onStart(span, context),
      onEnd: (span) => {
        if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
        if (this.pending >= this.maxQueue) {
          this.counts.dropped++;
          return;
        }
        this.pending++;
        batch.onEnd(span);
      },
      forceFlush: () => batch.forceFlush(),
      shutdown: () => batch.shutdown(),
    };
  }
}

function endSpan(span: Span, record: HttpRecord, node: string): void {
  if (!span.isRecording()) return;
  const shape = spanShape(record, node);
  span.setAttributes(shape.attributes);
  span.setStatus(shape.status);
  span.end(record.startedAt + record.durationMs);
}
