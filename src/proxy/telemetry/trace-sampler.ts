// Head sampling for the mesh's spans, decided once per trace at its first
// hop: a request that arrives with a trace context follows its sampled flag
// (so every hop of a trace agrees, and an app that chose to sample is
// honoured); a new trace is sampled with the configured ratio. The random
// source is injected so the decision is tested without chance.
//
// Two limits on what a caller decides for the mesh:
// - A caller the proxy cannot name (an inbound hop with no client
//   certificate: plaintext in permissive mode, or a process outside the mesh
//   reaching a redirected port) may turn sampling down, never up. Its
//   not-sampled flag is kept (recording less costs nothing); its sampled flag
//   is a request, and the hop rolls the ratio as for a new trace, continuing
//   the caller's trace id either way. Anyone on the network could otherwise
//   make every hop of every request record a span (Envoy honours
//   x-envoy-force-trace only from internal callers for the same reason).
// - Every recorded span takes one from the agent's span budget
//   (lib/per-second.ts). A hop over budget whose caller's flag was honoured is
//   left out of the trace: it records nothing and forwards the context it
//   received, flag `01` and the caller's span id, unchanged. The later hops,
//   each on its own agent's budget, still record, and their spans hang from
//   the last recorded one, so the trace stays whole but for this hop.
//   Forwarding `00` instead would cut off every later hop of a trace that
//   the caller and the earlier hops already exported part of. A new trace
//   (or an unnamed caller's) over budget is simply not sampled (`00`): no
//   span of it exists anywhere yet, so nothing is cut.

import { createContextKey, type Context } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';

export interface ParentView {
  sampled: boolean;
}

/** Whether a span is sampled: the parent's flag when there is one, else random() < ratio. */
export function sampled(parent: ParentView | undefined, ratio: number, random: () => number): boolean {
  if (parent) return parent.sampled;
  return random() < ratio;
}

/**
 * What a hop does with its span: `record` it, `skip` it (a non-recording
 * span, `00` forwarded), or `pass` (no span; the received context is
 * forwarded as it came, `01`).
 */
export type HopDecision = 'record' | 'skip' | 'pass';

export interface DecisionInput {
  parent: ParentView | undefined;
  /** Whether the caller is named (mTLS, or the local app at the outbound stage): only then can its flag raise sampling. */
  trusted: boolean;
  ratio: number;
  random: () => number;
  /** Takes one span from the budget; false when it is spent. */
  take: () => boolean;
}

export function decide({ parent, trusted, ratio, random, take }: DecisionInput): HopDecision {
  const followsParent = parent !== undefined && (trusted || !parent.sampled);
  if (!sampled(followsParent ? parent : undefined, ratio, random)) return 'skip';
  if (take()) return 'record';
  return followsParent ? 'pass' : 'skip';
}

/** Where the tracer puts its decision for the SDK's sampler to read. */
export const DECISION = createContextKey('meshctl hop sampled');

/**
 * The decision as the OpenTelemetry SDK asks for it: the one the tracer made
 * (decide) and put in the context. The SDK wants a sampler; this one decides
 * nothing itself, so a hop's sampling is rolled and budgeted once. A span
 * started without a decision is not the tracer's and is not recorded.
 */
export class DecidedSampler implements Sampler {
  shouldSample(context: Context): SamplingResult {
    return { decision: context.getValue(DECISION) === true ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return 'DecidedSampler{the hop tracer decides}';
  }
}
