import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applySetters } from '../../src/cli/config.ts';
import { describeZodIssues } from '../../src/config/describe.ts';
import { resolveServiceDefaults, serviceDefaultsSchema } from '../../src/config/service-defaults.ts';

test('nothing stored resolves to the documented defaults, frozen', () => {
  const d = resolveServiceDefaults(undefined);
  assert.equal(d.protocol, 'tcp');
  assert.equal(d.loadBalancer.policy, 'p2c_ewma');
  assert.deepEqual(d.timeouts, { connectMs: 5_000, requestMs: 15_000, idleMs: 3_600_000 });
  assert.equal(d.retries.numRetries, 2);
  assert.deepEqual(d.retries.retryOn, ['connect-failure', 'refused-stream', 'reset', 'gateway-error']);
  assert.deepEqual(d.retries.budget, { retryRatio: 0.2, minRetriesPerSecond: 10 });
  assert.deepEqual(d.circuitBreaker, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024 });
  assert.deepEqual(d.outlierDetection, { enabled: true, consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 10 });
  assert.ok(Object.isFrozen(d) && Object.isFrozen(d.retries.budget));
});

test('stored values override, durations in Go syntax', () => {
  const d = resolveServiceDefaults(serviceDefaultsSchema.parse({ protocol: 'http', timeouts: { request: '0s', connect: '250ms' }, retries: { per_try_timeout: '1.5s' } }));
  assert.equal(d.protocol, 'http');
  assert.equal(d.timeouts.requestMs, 0, '0s means no request timeout');
  assert.equal(d.timeouts.connectMs, 250);
  assert.equal(d.retries.perTryTimeoutMs, 1500);
});

test('every error is reported at once, each with its field path; unknown keys are refused', () => {
  const result = serviceDefaultsSchema.safeParse({
    protocol: 'smtp',
    retries: { num_retries: 'three', per_try_timeout: 'soon' },
    lb: {},
  });
  assert.equal(result.success, false);
  const text = describeZodIssues(result.error!);
  for (const path of ['protocol', 'retries.num_retries', 'retries.per_try_timeout', '(root)']) {
    assert.ok(text.includes(`${path}:`), `${path} in: ${text}`);
  }
  assert.match(text, /lb/, 'the unknown key is named');
  const hash = serviceDefaultsSchema.safeParse({ load_balancer: { policy: 'round_robin', hash_on: { header: 'x-user' } } });
  assert.match(describeZodIssues(hash.error!), /^load_balancer\.hash_on: hash_on applies to the ring_hash policy only$/);
});

test('key=value setters with dotted paths, lists and numbers', () => {
  const next = applySetters({ protocol: 'tcp' }, ['protocol=http', 'retries.num_retries=3', 'retries.retry_on=5xx,reset', 'retries.retriable_status_codes=503', 'load_balancer.policy=ring_hash', 'load_balancer.hash_on.header=x-user', 'outlier_detection.enabled=false']);
  assert.deepEqual(next, {
    protocol: 'http',
    retries: { num_retries: 3, retry_on: ['5xx', 'reset'], retriable_status_codes: [503] },
    load_balancer: { policy: 'ring_hash', hash_on: { header: 'x-user' } },
    outlier_detection: { enabled: false },
  });
  assert.equal(serviceDefaultsSchema.safeParse(next).success, true);
  assert.throws(() => applySetters({}, ['protocol']), /is not key=value/);
});
