// `meshctl config set mesh tracing.*`: the settings, their checks and defaults.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFieldErrors } from '../../src/config/kind.ts';
import { meshKind, withMeshDefaults } from '../../src/config/mesh.ts';

const set = (...settings: string[]) => meshKind.check(meshKind.applySetters({}, settings));

test('tracing settings set, convert and resolve with their defaults', () => {
  const checked = set('tracing.otlp_endpoint=http://collector:4318/v1/traces', 'tracing.sampling=0.01');
  assert.deepEqual(checked, { ok: true, value: { tracing: { otlp_endpoint: 'http://collector:4318/v1/traces', sampling: 0.01 } } });
  assert.deepEqual(withMeshDefaults(undefined).tracing, { sampling: 0.01, max_spans_per_second: 1000 }, 'off (no endpoint) by default');
  assert.deepEqual(withMeshDefaults({ tracing: { otlp_endpoint: 'https://otel.example:4318/v1/traces' } }).tracing, { otlp_endpoint: 'https://otel.example:4318/v1/traces', sampling: 0.01, max_spans_per_second: 1000 });
  assert.deepEqual(set('tracing.sampling=1'), { ok: true, value: { tracing: { sampling: 1 } } });
  assert.deepEqual(set('tracing.max_spans_per_second=200'), { ok: true, value: { tracing: { max_spans_per_second: 200 } } });
  assert.equal(withMeshDefaults({ tracing: { max_spans_per_second: 200 } }).tracing.max_spans_per_second, 200);
  assert.deepEqual(meshKind.applySetters({ tracing: { otlp_endpoint: 'http://c:4318/v1/traces', sampling: 1 } }, ['tracing.otlp_endpoint=']), { tracing: { sampling: 1 } }, 'an empty value turns tracing off');
  const keys = meshKind.keys.filter((k) => k.path.startsWith('tracing.')).map((k) => [k.path, k.defaultValue]);
  assert.deepEqual(keys, [['tracing.otlp_endpoint', undefined], ['tracing.sampling', 0.01], ['tracing.max_spans_per_second', 1000]]);
});

test('bad tracing settings are refused with the key, the value and what is expected', () => {
  const cases: Array<[string[], string]> = [
    [['tracing.otlp_endpoint=collector:4318'], 'tracing.otlp_endpoint: expected an http:// or https:// URL of an OTLP/HTTP collector, such as http://collector:4318/v1/traces, got "collector:4318"'],
    [['tracing.otlp_endpoint=grpc://collector:4317'], 'tracing.otlp_endpoint: expected an http:// or https:// URL of an OTLP/HTTP collector, such as http://collector:4318/v1/traces, got "grpc://collector:4317"'],
    [['tracing.otlp_endpoint=http://user:pass@collector:4318/v1/traces'], 'tracing.otlp_endpoint: expected a URL without credentials (user:pass@): read-only tokens read the mesh config and the agents log the endpoint; give the collector an address the hosts trust, or run an OpenTelemetry Collector on each host, got "http://user:pass@collector:4318/v1/t...'],
    [['tracing.otlp_endpoint=https://token@collector:4318/v1/traces'], 'tracing.otlp_endpoint: expected a URL without credentials (user:pass@): read-only tokens read the mesh config and the agents log the endpoint; give the collector an address the hosts trust, or run an OpenTelemetry Collector on each host, got "https://token@collector:4318/v1/traces"'],
    [['tracing.sampling=1.5'], 'tracing.sampling: expected a ratio from 0 to 1, such as 0.01 for 1%, got 1.5'],
    [['tracing.sampling=1%'], 'tracing.sampling: expected a ratio from 0 to 1, such as 0.01 for 1%, got "1%"'],
    [['tracing.max_spans_per_second=0'], 'tracing.max_spans_per_second: expected a whole number from 1 to 1000000, got 0'],
    [['tracing.max_spans_per_second=2.5'], 'tracing.max_spans_per_second: expected a whole number from 1 to 1000000, got 2.5'],
    [['tracing.max_spans_per_second=2000000'], 'tracing.max_spans_per_second: expected a whole number from 1 to 1000000, got 2000000'],
    [['tracing.max_spans_per_second=lots'], 'tracing.max_spans_per_second: expected a whole number from 1 to 1000000, got "lots"'],
  ];
  for (const [settings, message] of cases) {
    const checked = set(...settings);
    assert.equal(checked.ok, false, settings.join(' '));
    if (!checked.ok) assert.equal(describeFieldErrors(checked.errors), message);
  }
  assert.throws(() => meshKind.applySetters({}, ['tracing.endpoint=http://c:4318']), /tracing\.endpoint: unknown key, did you mean tracing\.otlp_endpoint\?/);
  assert.throws(() => meshKind.applySetters({}, ['tracing.spans_per_second=5']), /tracing\.spans_per_second: unknown key, did you mean tracing\.max_spans_per_second\?/);
  assert.throws(() => meshKind.applySetters({}, ['tracing=on']), /tracing is a group, set one of tracing\.otlp_endpoint, tracing\.sampling, tracing\.max_spans_per_second/);
});
