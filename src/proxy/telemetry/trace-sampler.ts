// Head sampling for the mesh's spans, decided once per trace at its first
// hop: a request that arrives with a trace context follows its sampled flag
// (so every hop of a trace agrees, and an app that chose to sample is
// honoured); a new trace is sampled with the configured ratio. The random
// source is injected so the decision is tested without chance.

import { isSpanContextValid, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';

export interface ParentView {
  sampled: boolean;
}

/** Whether a span is sampled: the parent's flag when there is one, else random() < ratio. */
export function sampled(parent: ParentView | undefined, ratio: number, random: () => number): boolean {
  if (parent) return parent.sampled;
  return random() < ratio;
}

/** The decision as the OpenTelemetry SDK asks for it. */
export class MeshSampler implements Sampler {
  private readonly ratio: number;
  private readonly random: () => number;

  constructor(ratio: number, random: () => number) {
    this.ratio = ratio;
    this.random = random;
  }

  shouldSample(context: Context): SamplingResult {
    const parent = trace.getSpanContext(context);
    const view = parent && isSpanContextValid(parent) ? { sampled: (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED } : undefined;
    return { decision: sampled(view, this.ratio, this.random) ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return `MeshSampler{parent-based, ratio=${this.ratio}}`;
  }
}
