// Head sampling: the parent's flag when there is one, the ratio for a new trace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { decide, DECISION, DecidedSampler, sampled } from '../../../src/proxy/telemetry/trace-sampler.ts';

test('sampled: the parent decides; without one, random() < ratio', () => {
  const cases: Array<[{ sampled: boolean } | undefined, number, number, boolean]> = [
    [{ sampled: true }, 0, 0.5, true],
    [{ sampled: false }, 1, 0, false],
    [undefined, 0, 0, false],
    [undefined, 1, 0.999999, true],
    [undefined, 0.01, 0.0099, true],
    [undefined, 0.01, 0.01, false],
    [undefined, 0.5, 0.7, false],
  ];
  for (const [parent, ratio, roll, want] of cases) assert.equal(sampled(parent, ratio, () => roll), want, JSON.stringify({ parent, ratio, roll }));
});

test("the SDK's sampler decides nothing itself: a span started without the tracer's decision is not recorded, whatever its parent says", () => {
  const sampler = new DecidedSampler();
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true });
  assert.equal(sampler.shouldSample(parent).decision, SamplingDecision.NOT_RECORD);
  assert.equal(sampler.shouldSample(ROOT_CONTEXT).decision, SamplingDecision.NOT_RECORD);
});

test("decide: a named caller's flag is followed, an unnamed caller can only lower sampling, the budget caps what is recorded", () => {
  type Row = [string, { sampled: boolean } | undefined, boolean, number, boolean, string, number];
  // name, parent, trusted, roll (ratio 0.1), budget left, decision, budget taken
  const rows: Row[] = [
    ['named caller, sampled', { sampled: true }, true, 0.9, true, 'record', 1],
    ['named caller, sampled, over budget: left out, its context passed on', { sampled: true }, true, 0.9, false, 'pass', 1],
    ['named caller, not sampled', { sampled: false }, true, 0.0, true, 'skip', 0],
    ['unnamed caller, sampled, ratio says no', { sampled: true }, false, 0.9, true, 'skip', 0],
    ['unnamed caller, sampled, ratio says yes', { sampled: true }, false, 0.05, true, 'record', 1],
    ['unnamed caller, sampled, ratio says yes, over budget: not sampled', { sampled: true }, false, 0.05, false, 'skip', 1],
    ['unnamed caller, not sampled: kept even when the ratio would say yes', { sampled: false }, false, 0.0, true, 'skip', 0],
    ['new trace, ratio says yes', undefined, true, 0.05, true, 'record', 1],
    ['new trace, ratio says yes, over budget: not sampled', undefined, false, 0.05, false, 'skip', 1],
    ['new trace, ratio says no', undefined, true, 0.5, true, 'skip', 0],
  ];
  for (const [name, parent, trusted, roll, left, want, taken] of rows) {
    let takes = 0;
    const got = decide({ parent, trusted, ratio: 0.1, random: () => roll, take: () => (takes++, left) });
    assert.equal(got, want, name);
    assert.equal(takes, taken, `${name}: budget asked ${takes} times`);
  }
});

test('the sampler follows the decision the tracer put in the context', () => {
  const sampler = new DecidedSampler();
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true });
  assert.equal(sampler.shouldSample(parent.setValue(DECISION, false)).decision, SamplingDecision.NOT_RECORD);
  assert.equal(sampler.shouldSample(ROOT_CONTEXT.setValue(DECISION, true)).decision, SamplingDecision.RECORD_AND_SAMPLED);
});
