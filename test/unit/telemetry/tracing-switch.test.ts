// The agent's tracing switch: a tracer per settings, the old one flushed and stopped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HopTracer } from '../../../src/proxy/telemetry/hop-context.ts';
import { TracingSwitch, type StoppableTracer } from '../../../src/agent/tracing.ts';

test('settings changes swap the tracer, stop the old one, and no endpoint turns tracing off', async () => {
  const made: Array<{ settings: unknown; stopped: boolean }> = [];
  let installed: HopTracer | undefined;
  const sw = new TracingSwitch({
    setTracer: (t) => (installed = t),
    node: 'n', random: Math.random, now: () => 0, log: () => {},
    make: (settings) => {
      const entry = { settings, stopped: false };
      made.push(entry);
      return { start: () => undefined, shutdown: async () => void (entry.stopped = true) } satisfies StoppableTracer;
    },
  });
  sw.apply({ sampling: 0.01, max_spans_per_second: 1000 });
  assert.equal(installed, undefined);
  assert.equal(made.length, 0);
  sw.apply({ otlp_endpoint: 'http://c:4318/v1/traces', sampling: 0.01, max_spans_per_second: 1000 });
  const first = installed;
  assert.ok(first);
  sw.apply({ otlp_endpoint: 'http://c:4318/v1/traces', sampling: 0.01, max_spans_per_second: 1000 });
  assert.equal(installed, first, 'the same settings keep the tracer');
  sw.apply({ otlp_endpoint: 'http://c:4318/v1/traces', sampling: 1, max_spans_per_second: 1000 });
  assert.notEqual(installed, first);
  const second = installed;
  sw.apply({ otlp_endpoint: 'http://c:4318/v1/traces', sampling: 1, max_spans_per_second: 50 });
  assert.notEqual(installed, second, 'a new span budget is a new tracer');
  assert.deepEqual(made.map((m) => m.settings), [
    { otlp_endpoint: 'http://c:4318/v1/traces', sampling: 0.01, max_spans_per_second: 1000 },
    { otlp_endpoint: 'http://c:4318/v1/traces', sampling: 1, max_spans_per_second: 1000 },
    { otlp_endpoint: 'http://c:4318/v1/traces', sampling: 1, max_spans_per_second: 50 },
  ]);
  sw.apply({ sampling: 1, max_spans_per_second: 1000 });
  assert.equal(installed, undefined);
  await sw.stop();
  assert.deepEqual(made.map((m) => m.stopped), [true, true, true]);
});
