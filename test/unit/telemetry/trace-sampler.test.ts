// Head sampling: the parent's flag when there is one, the ratio for a new trace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { MeshSampler, sampled } from '../../../src/proxy/telemetry/trace-sampler.ts';

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

test('MeshSampler asks the random source only for new traces', () => {
  let rolls = 0;
  const sampler = new MeshSampler(0.25, () => (rolls++, 0.2));
  const parent = (flags: number) => trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: flags, isRemote: true });
  const ask = (context = ROOT_CONTEXT) => sampler.shouldSample(context).decision;
  assert.equal(ask(parent(TraceFlags.SAMPLED)), SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(ask(parent(TraceFlags.NONE)), SamplingDecision.NOT_RECORD);
  assert.equal(rolls, 0);
  assert.equal(ask(), SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(rolls, 1);
  assert.equal(new MeshSampler(0.1, () => 0.2).shouldSample(ROOT_CONTEXT).decision, SamplingDecision.NOT_RECORD);
});
