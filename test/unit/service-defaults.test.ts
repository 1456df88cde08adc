// The service-defaults schema: defaults, every error with its path and value,
// hints for renamed keys, the frozen resolved form, and key=value setters.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeZodIssues } from '../../src/config/describe.ts';
import {
  SERVICE_DEFAULTS,
  applySetters,
  checkServiceDefaults,
  describeFieldErrors,
  resolveServiceDefaults,
  serviceDefaultsKind,
  serviceDefaultsSchema,
  withServiceDefaults,
  type StoredServiceDefaults,
} from '../../src/config/service-defaults.ts';

/** The errors of an input, as the CLI and the API print them. */
function errorsOf(input: unknown): string {
  const checked = checkServiceDefaults(input);
  assert.equal(checked.ok, false, `expected ${JSON.stringify(input)} to be refused`);
  return checked.ok ? '' : describeFieldErrors(checked.errors);
}

function assertDeepFrozen(value: unknown, path = 'resolved'): void {
  if (value === null || typeof value !== 'object') return;
  assert.ok(Object.isFrozen(value), `${path} is frozen`);
  for (const [key, inner] of Object.entries(value)) assertDeepFrozen(inner, `${path}.${key}`);
}

describe('resolving', () => {
  test('nothing stored resolves to the documented defaults', () => {
    assert.deepEqual(resolveServiceDefaults(undefined), {
      protocol: 'tcp',
      loadBalancer: { policy: 'p2c_ewma', hashOn: { sourceIp: true } },
      timeouts: { connectMs: 5_000, requestMs: 15_000, idleMs: 3_600_000 },
      retries: {
        numRetries: 2,
        perTryTimeoutMs: undefined,
        retryOn: ['connect-failure', 'refused-stream', 'reset', 'gateway-error'],
        retriableStatusCodes: [],
        backoffBaseMs: 25,
        backoffMaxMs: 250,
        budget: { retryRatio: 0.2, minRetriesPerSecond: 10 },
      },
      circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024 },
      outlierDetection: { enabled: true, consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 10 },
      mtlsMode: 'strict',
    });
    assert.deepEqual(resolveServiceDefaults({}), resolveServiceDefaults(undefined));
  });

  test('the resolved form is frozen all the way down', () => {
    const resolved = resolveServiceDefaults({ retries: { retry_on: ['5xx'] }, load_balancer: { policy: 'ring_hash', hash_on: { header: 'x-user' } } });
    assertDeepFrozen(resolved);
    assert.throws(() => {
      (resolved as { protocol: string }).protocol = 'http';
    }, TypeError);
    assert.throws(() => (resolved.retries.retryOn as string[]).push('reset'), TypeError);
    assertDeepFrozen(SERVICE_DEFAULTS, 'SERVICE_DEFAULTS');
  });

  test('stored values override the defaults; durations in Go syntax become milliseconds', () => {
    const cases: Array<[StoredServiceDefaults, (r: ReturnType<typeof resolveServiceDefaults>) => unknown, unknown]> = [
      [{ protocol: 'grpc' }, (r) => r.protocol, 'grpc'],
      [{ timeouts: { connect: '250ms' } }, (r) => r.timeouts, { connectMs: 250, requestMs: 15_000, idleMs: 3_600_000 }],
      [{ timeouts: { request: '0s' } }, (r) => r.timeouts.requestMs, 0],
      [{ timeouts: { idle: '1h30m' } }, (r) => r.timeouts.idleMs, 5_400_000],
      [{ retries: { per_try_timeout: '1.5s' } }, (r) => r.retries.perTryTimeoutMs, 1_500],
      [{ retries: { num_retries: 0 } }, (r) => r.retries.numRetries, 0],
      [{ retries: { budget: { retry_ratio: 0.5 } } }, (r) => r.retries.budget, { retryRatio: 0.5, minRetriesPerSecond: 10 }],
      [{ retries: { retry_on: ['5xx', 'retriable-status-codes'], retriable_status_codes: [503] } }, (r) => [r.retries.retryOn, r.retries.retriableStatusCodes], [['5xx', 'retriable-status-codes'], [503]]],
      [{ circuit_breaker: { max_requests: 10 } }, (r) => r.circuitBreaker, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 10 }],
      [{ outlier_detection: { enabled: false, base_ejection_time: '1m' } }, (r) => [r.outlierDetection.enabled, r.outlierDetection.baseEjectionMs], [false, 60_000]],
      [{ load_balancer: { policy: 'ring_hash' } }, (r) => r.loadBalancer, { policy: 'ring_hash', hashOn: { sourceIp: true } }],
      [{ load_balancer: { policy: 'ring_hash', hash_on: { header: 'x-user' } } }, (r) => r.loadBalancer.hashOn, { header: 'x-user', sourceIp: false }],
      [{ mtls_mode: 'permissive' }, (r) => r.mtlsMode, 'permissive'],
    ];
    for (const [stored, pick, expected] of cases) {
      assert.equal(checkServiceDefaults(stored).ok, true, JSON.stringify(stored));
      assert.deepEqual(pick(resolveServiceDefaults(stored)), expected, JSON.stringify(stored));
    }
  });

  test('the stored form with defaults filled in is itself valid and resolves the same', () => {
    for (const stored of [{}, { protocol: 'http', retries: { per_try_timeout: '200ms' } }, { load_balancer: { policy: 'ring_hash' } }] as StoredServiceDefaults[]) {
      const filled = withServiceDefaults(stored);
      assert.equal(checkServiceDefaults(filled).ok, true, JSON.stringify(filled));
      assert.deepEqual(resolveServiceDefaults(filled), resolveServiceDefaults(stored));
    }
    assert.equal(checkServiceDefaults(SERVICE_DEFAULTS).ok, true);
  });
});

describe('validation', () => {
  test('each wrong value is reported with its field path and the value it got', () => {
    const cases: Array<[unknown, string]> = [
      [{ protocol: 'smtp' }, 'protocol: expected one of tcp, http, http2, grpc, got "smtp"'],
      [{ protocol: 7 }, 'protocol: expected one of tcp, http, http2, grpc, got 7'],
      [{ retries: { num_retries: 'three' } }, 'retries.num_retries: expected a whole number ≥ 0, got "three"'],
      [{ retries: { num_retries: -1 } }, 'retries.num_retries: expected a whole number ≥ 0, got -1'],
      [{ retries: { num_retries: 1.5 } }, 'retries.num_retries: expected a whole number ≥ 0, got 1.5'],
      [{ retries: { num_retries: 11 } }, 'retries.num_retries: expected at most 10 retries, got 11'],
      [{ retries: { per_try_timeout: 'soon' } }, 'retries.per_try_timeout: expected a duration above 0, such as 5s or 250ms, got "soon"'],
      [{ retries: { per_try_timeout: '0s' } }, 'retries.per_try_timeout: expected a duration above 0, such as 5s or 250ms, got "0s"'],
      [{ retries: { per_try_timeout: 5 } }, 'retries.per_try_timeout: expected a duration above 0, such as 5s or 250ms, got 5'],
      [{ timeouts: { connect: '-1s' } }, 'timeouts.connect: expected a duration above 0, such as 5s or 250ms, got "-1s"'],
      [{ timeouts: { request: '5' } }, 'timeouts.request: expected a duration such as 5s or 250ms (0s: none), got "5"'],
      [{ timeouts: { idle: '1000h' } }, 'timeouts.idle: expected at most 596h, got "1000h"'],
      [{ retries: { retry_on: ['5xx', 'bogus'] } }, 'retries.retry_on[1]: expected one of connect-failure, refused-stream, reset, 5xx, gateway-error, retriable-status-codes, got "bogus"'],
      [{ retries: { retry_on: 'reset' } }, 'retries.retry_on: expected a list of connect-failure, refused-stream, reset, 5xx, gateway-error, retriable-status-codes, got "reset"'],
      [{ retries: { retry_on: ['retriable-status-codes'], retriable_status_codes: [503, 700] } }, 'retries.retriable_status_codes[1]: expected a whole number from 100 to 599, got 700'],
      [{ retries: { retriable_status_codes: [503] } }, 'retries.retriable_status_codes: used only when retries.retry_on includes retriable-status-codes'],
      [{ retries: { retry_on: ['retriable-status-codes'] } }, 'retries.retry_on: retriable-status-codes needs retries.retriable_status_codes'],
      [{ retries: { backoff_base: '1s' } }, 'retries.backoff_max: must be at least retries.backoff_base (1s), got 250ms (the default)'],
      [{ retries: { budget: { retry_ratio: 1.5 } } }, 'retries.budget.retry_ratio: expected a number from 0 to 1, got 1.5'],
      [{ retries: { budget: { min_retries_per_second: -1 } } }, 'retries.budget.min_retries_per_second: expected a whole number ≥ 0, got -1'],
      [{ circuit_breaker: { max_connections: 0 } }, 'circuit_breaker.max_connections: expected a whole number ≥ 1, got 0'],
      [{ circuit_breaker: { max_pending_requests: '10' } }, 'circuit_breaker.max_pending_requests: expected a whole number ≥ 1, got "10"'],
      [{ outlier_detection: { max_ejection_percent: 101 } }, 'outlier_detection.max_ejection_percent: expected a whole number from 0 to 100, got 101'],
      [{ outlier_detection: { enabled: 'yes' } }, 'outlier_detection.enabled: expected true or false, got "yes"'],
      [{ outlier_detection: { consecutive_errors: 0 } }, 'outlier_detection.consecutive_errors: expected a whole number ≥ 1, got 0'],
      [{ mtls_mode: 'off' }, 'mtls_mode: expected one of strict, permissive, got "off"'],
      [{ load_balancer: { policy: 'round_robin', hash_on: { header: 'x-user' } } }, 'load_balancer.hash_on: applies to the ring_hash policy only (load_balancer.policy is round_robin)'],
      [{ load_balancer: { hash_on: { source_ip: true } } }, 'load_balancer.hash_on: applies to the ring_hash policy only (load_balancer.policy is p2c_ewma, the default)'],
      [{ load_balancer: { policy: 'ring_hash', hash_on: { header: 'x-user', source_ip: true } } }, 'load_balancer.hash_on: give header or source_ip: true, not both'],
      [{ load_balancer: { policy: 'ring_hash', hash_on: { header: '' } } }, 'load_balancer.hash_on.header: expected a header name, got ""'],
      [{ retries: null }, 'retries: expected a group of settings (num_retries, per_try_timeout, retry_on, retriable_status_codes, backoff_base, backoff_max, budget), got null'],
      ['http', '(root): expected a group of settings (protocol, load_balancer, timeouts, retries, circuit_breaker, outlier_detection, mtls_mode), got "http"'],
    ];
    for (const [input, expected] of cases) assert.equal(errorsOf(input), expected, JSON.stringify(input));
  });

  test('every error is reported at once, each with its path', () => {
    const checked = checkServiceDefaults({ protocol: 'smtp', retries: { num_retries: 'three', per_try_timeout: 'soon' }, circuit_breaker: { max_requests: 0 }, lb: {} });
    assert.equal(checked.ok, false);
    assert.deepEqual(checked.ok ? [] : checked.errors.map((e) => e.path).sort(), ['circuit_breaker.max_requests', 'lb', 'protocol', 'retries.num_retries', 'retries.per_try_timeout']);
  });

  test('unknown keys are refused, one error each, with a hint when a known key is close', () => {
    const cases: Array<[unknown, string]> = [
      [{ lb: {} }, 'lb: unknown key, did you mean load_balancer?'],
      [{ loadbalancer: {} }, 'loadbalancer: unknown key, did you mean load_balancer?'],
      [{ loadBalancer: {} }, 'loadBalancer: unknown key, did you mean load_balancer?'],
      [{ retry: {} }, 'retry: unknown key, did you mean retries?'],
      [{ timeout: {} }, 'timeout: unknown key, did you mean timeouts?'],
      [{ protcol: 'http' }, 'protcol: unknown key, did you mean protocol?'],
      [{ Protocol: 'http' }, 'Protocol: unknown key, did you mean protocol?'],
      [{ maxConnections: 10 }, 'maxConnections: unknown key, did you mean circuit_breaker.max_connections?'],
      [{ max_conns: 10 }, 'max_conns: unknown key, did you mean circuit_breaker.max_connections?'],
      [{ circuit_breaker: { maxConnections: 10 } }, 'circuit_breaker.maxConnections: unknown key, did you mean circuit_breaker.max_connections?'],
      [{ connect_timeout: '1s' }, 'connect_timeout: unknown key, did you mean timeouts.connect?'],
      [{ retries: { max_retries: 3 } }, 'retries.max_retries: unknown key, did you mean retries.num_retries?'],
      [{ retries: { retryOn: ['5xx'] } }, 'retries.retryOn: unknown key, did you mean retries.retry_on?'],
      [{ load_balancer: { type: 'random' } }, 'load_balancer.type: unknown key, did you mean load_balancer.policy?'],
      [{ Kind: 'service-defaults' }, 'Kind: unknown key, give only the settings: the kind and the name come from the command or the URL'],
      [{ colour: 'blue' }, 'colour: unknown key'],
      [{ lb: {}, retry: {} }, 'lb: unknown key, did you mean load_balancer?; retry: unknown key, did you mean retries?'],
    ];
    for (const [input, expected] of cases) assert.equal(errorsOf(input), expected, JSON.stringify(input));
  });

  test('the schema alone (as the agent logs it) names unknown keys with their hints too', () => {
    const parsed = serviceDefaultsSchema.safeParse({ lb: {}, retries: { num_retries: 'three' } });
    assert.equal(parsed.success, false);
    const text = describeZodIssues(parsed.error!);
    assert.match(text, /retries\.num_retries: expected a whole number ≥ 0, got "three"/);
    assert.match(text, /\(root\): unknown key "lb", did you mean load_balancer\?/);
  });
});

describe('key=value setters', () => {
  test('dotted paths, converted by the type the schema expects', () => {
    const cases: Array<[object, string[], object]> = [
      [{}, ['protocol=http'], { protocol: 'http' }],
      [{ protocol: 'tcp' }, ['retries.num_retries=3'], { protocol: 'tcp', retries: { num_retries: 3 } }],
      [{}, ['load_balancer.policy=ring_hash', 'load_balancer.hash_on.header=x-user'], { load_balancer: { policy: 'ring_hash', hash_on: { header: 'x-user' } } }],
      [{}, ['retries.retry_on=5xx,reset'], { retries: { retry_on: ['5xx', 'reset'] } }],
      [{}, ['retries.retry_on=5xx, reset,'], { retries: { retry_on: ['5xx', 'reset'] } }],
      [{}, ['retries.retriable_status_codes=503,504'], { retries: { retriable_status_codes: [503, 504] } }],
      [{}, ['retries.retriable_status_codes=503'], { retries: { retriable_status_codes: [503] } }],
      [{}, ['outlier_detection.enabled=false'], { outlier_detection: { enabled: false } }],
      [{}, ['retries.budget.retry_ratio=0.5'], { retries: { budget: { retry_ratio: 0.5 } } }],
      [{}, ['load_balancer.hash_on.source_ip=true'], { load_balancer: { hash_on: { source_ip: true } } }],
      [{}, ['timeouts.connect=250ms'], { timeouts: { connect: '250ms' } }],
      [{ retries: { num_retries: 3, per_try_timeout: '1s' } }, ['retries.per_try_timeout='], { retries: { num_retries: 3 } }],
      [{ retries: { per_try_timeout: '1s' }, protocol: 'http' }, ['retries.per_try_timeout='], { protocol: 'http' }],
      [{ protocol: 'http' }, ['protocol=grpc', 'protocol=http2'], { protocol: 'http2' }],
      // What does not convert stays text, for the schema to refuse with the value.
      [{}, ['retries.num_retries=three', 'outlier_detection.enabled=yes'], { retries: { num_retries: 'three' }, outlier_detection: { enabled: 'yes' } }],
    ];
    for (const [current, assignments, expected] of cases) assert.deepEqual(applySetters(current, assignments), expected, assignments.join(' '));
  });

  test('the current entry is not changed', () => {
    const current = { retries: { num_retries: 1 } };
    applySetters(current, ['retries.num_retries=2', 'protocol=http']);
    assert.deepEqual(current, { retries: { num_retries: 1 } });
  });

  test('the result is then checked by the schema, naming the field and the value', () => {
    assert.equal(errorsOf(applySetters({}, ['retries.num_retries=three'])), 'retries.num_retries: expected a whole number ≥ 0, got "three"');
    assert.equal(errorsOf(applySetters({}, ['load_balancer.hash_on.header=x-user'])), 'load_balancer.hash_on: applies to the ring_hash policy only (load_balancer.policy is p2c_ewma, the default)');
    assert.equal(checkServiceDefaults(applySetters({}, ['protocol=http', 'retries.retry_on=5xx,retriable-status-codes', 'retries.retriable_status_codes=503,504'])).ok, true);
  });

  test('unknown paths, groups and malformed settings are refused, all at once, with hints', () => {
    const cases: Array<[string[], RegExp]> = [
      [['lb.policy=round_robin'], /^invalid settings: lb: unknown key, did you mean load_balancer\?$/],
      [['loadbalancer.policy=random'], /^invalid settings: loadbalancer: unknown key, did you mean load_balancer\?$/],
      [['maxConnections=5'], /^invalid settings: maxConnections: unknown key, did you mean circuit_breaker\.max_connections\?$/],
      [['retries.max_retries=5'], /^invalid settings: retries\.max_retries: unknown key, did you mean retries\.num_retries\?$/],
      [['load_balancer=round_robin'], /^invalid settings: load_balancer is a group, set one of load_balancer\.policy, load_balancer\.hash_on$/],
      [['protocol.name=http'], /^invalid settings: protocol is a single setting, it has no "name"$/],
      [['protocol'], /^invalid settings: "protocol" is not key=value$/],
      [['=http'], /^invalid settings: "=http" is not key=value$/],
      [['lb=x', 'retry.num_retries=1', 'protocol=http'], /^invalid settings: lb: unknown key, did you mean load_balancer\?; retry: unknown key, did you mean retries\?$/],
    ];
    for (const [assignments, expected] of cases) {
      assert.throws(
        () => applySetters({}, assignments),
        (error: { code?: string; message: string; hint?: string }) => {
          assert.equal(error.code, 'MESH_E_USAGE');
          assert.match(error.message, expected);
          assert.match(error.hint ?? '', /meshctl config set --help/);
          return true;
        },
        assignments.join(' '),
      );
    }
  });

  test('the kind lists every settable key with its default', () => {
    const keys = new Map(serviceDefaultsKind.keys.map((k) => [k.path, k]));
    assert.equal(keys.size, 23);
    assert.deepEqual(keys.get('protocol'), { path: 'protocol', defaultValue: 'tcp', values: ['tcp', 'http', 'http2', 'grpc'] });
    assert.equal(keys.get('timeouts.idle')?.defaultValue, '1h');
    assert.equal(keys.get('retries.per_try_timeout')?.defaultValue, undefined);
    for (const path of keys.keys()) {
      assert.doesNotThrow(() => applySetters({}, [`${path}=x`]), path);
    }
  });
});
