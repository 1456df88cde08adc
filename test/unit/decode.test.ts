import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeStruct } from '../../src/control/api/consul/decode.ts';
import { checksFromAgentService, serviceFromAgent } from '../../src/control/api/consul/registration.ts';
import { agentServiceSpec } from '../../src/control/api/consul/specs.ts';

test('PascalCase, snake_case and lowercase keys decode alike; map keys are kept as sent', () => {
  const bodies = [
    { Name: 'web', EnableTagOverride: true, Meta: { Build_ID: '7' }, Check: { TTL: '15s', DeregisterCriticalServiceAfter: '10m' } },
    { name: 'web', enable_tag_override: true, meta: { Build_ID: '7' }, check: { ttl: '15s', deregister_critical_service_after: '10m' } },
    { name: 'web', enabletagoverride: true, meta: { Build_ID: '7' }, check: { ttl: '15s', DeregisterCriticalServiceAfter: '10m' } },
  ];
  const decoded = bodies.map((b) => decodeStruct(agentServiceSpec, b, ''));
  for (const d of decoded) assert.deepEqual(d, decoded[0]);
  assert.deepEqual(decoded[0]!.Meta, { Build_ID: '7' });
  assert.deepEqual(decoded[0]!.Check, { TTL: '15s', DeregisterCriticalServiceAfter: '10m0s' });
});

test('a wrong type is refused with the field path', () => {
  assert.throws(() => decodeStruct(agentServiceSpec, { Name: 'web', Port: '80' }, ''), /Port: expected an integer, got "80"/);
  assert.throws(() => decodeStruct(agentServiceSpec, { Name: 'web', Checks: [{ TTL: 'soon' }] }, ''), /Checks\[0\]\.TTL: expected a duration/);
  assert.throws(() => decodeStruct(agentServiceSpec, { Name: 'web', Meta: { a: 1 } }, ''), /Meta: expected an object of strings/);
});

test('Go nanosecond durations are accepted', () => {
  assert.deepEqual(decodeStruct(agentServiceSpec, { Check: { Interval: 10_000_000_000 } }, '').Check, { Interval: '10s' });
});

test('service checks get Consul IDs and start critical', () => {
  const one = decodeStruct(agentServiceSpec, { Name: 'web', ID: 'web-1', Check: { TTL: '10s' } }, '');
  const [check] = checksFromAgentService(one, 'n1', serviceFromAgent(one));
  assert.equal(check?.CheckID, 'service:web-1');
  assert.equal(check?.Status, 'critical');
  const two = decodeStruct(agentServiceSpec, { Name: 'web', Checks: [{ TTL: '10s' }, { TCP: '127.0.0.1:1', Interval: '5s' }] }, '');
  assert.deepEqual(checksFromAgentService(two, 'n1', serviceFromAgent(two)).map((c) => [c.CheckID, c.Type]), [
    ['service:web:1', 'ttl'],
    ['service:web:2', 'tcp'],
  ]);
});

test('checks meshctl does not run are refused with the reason', () => {
  const table: Array<[Record<string, unknown>, RegExp]> = [
    [{ Args: ['/bin/true'], Interval: '10s' }, /Scripts are disabled/],
    [{ GRPC: '127.0.0.1:9000', Interval: '10s' }, /GRPC checks are not supported/],
    [{ HTTP: 'http://127.0.0.1/' }, /Interval must be > 0/],
    [{ HTTP: 'ftp://x/', Interval: '1s' }, /must be an http/],
    [{}, /must give one of TTL, HTTP or TCP/],
    [{ TTL: '10s', Status: 'ok' }, /Invalid check status/],
  ];
  for (const [check, message] of table) {
    const d = decodeStruct(agentServiceSpec, { Name: 'web', Checks: [check] }, '');
    assert.throws(() => checksFromAgentService(d, 'n1', serviceFromAgent(d)), message, JSON.stringify(check));
  }
});
