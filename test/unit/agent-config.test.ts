// agent.json's addresses are checked as join checks its flags: a hand-edited
// file with an address join would refuse is refused when the agent reads it,
// with the field's path and the parser's reason, every bad field at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentConfig, type AgentConfig } from '../../src/agent/config/agent-config.ts';
import { MeshError } from '../../src/lib/errors.ts';

const good: AgentConfig = {
  version: 1, server: 'https://10.0.0.9:8501', token: 't', nodeName: 'host-1', advertiseAddr: '10.0.0.1',
  services: [{ id: 'db', name: 'db', port: 5432, address: '', tags: [], meta: {}, weight: 1, check: { kind: 'tcp', address: 'localhost:5432', intervalMs: 10_000, timeoutMs: 5_000 } }],
  upstreams: [], configDir: '/c', dataDir: '/d', adminAddr: '127.0.0.1:15000', inboundAddr: '[::]:15006',
  heartbeatIntervalMs: 10_000, syncIntervalMs: 30_000,
};

const refusal = (value: unknown): string => {
  try {
    parseAgentConfig(value, '/c/agent.json');
  } catch (error) {
    assert.ok(error instanceof MeshError);
    assert.equal(error.code, 'MESH_E_USAGE');
    return error.message;
  }
  assert.fail('accepted');
};

test('a config with good addresses is accepted as written', () => {
  assert.deepEqual(parseAgentConfig(good, '/c/agent.json'), good);
  assert.equal(parseAgentConfig({ ...good, adminAddr: 'localhost:0' }, '/c/agent.json').adminAddr, 'localhost:0');
});

test('a bad address field is refused naming the field, the value and the reason', () => {
  const withCheck = (address: string) => ({ ...good, services: [{ ...good.services[0], check: { kind: 'tcp', address, intervalMs: 10_000, timeoutMs: 5_000 } }] });
  const table: Array<[string, unknown, string]> = [
    ['admin port past 65535', { ...good, adminAddr: '127.0.0.1:99999' }, 'adminAddr: "127.0.0.1:99999" is not HOST:PORT: the port 99999 is outside 0..65535'],
    ['admin bracket never closed', { ...good, adminAddr: '[::1' }, 'adminAddr: "[::1" is not HOST:PORT: the "[" has no closing "]"'],
    ['inbound without brackets', { ...good, inboundAddr: '::1:15006' }, 'inboundAddr: "::1:15006" is not HOST:PORT: an IPv6 address goes in brackets, as [::1]:PORT'],
    ['inbound on a name', { ...good, inboundAddr: 'example.com:15006' }, 'inboundAddr: "example.com:15006" is not HOST:PORT: the host "example.com" is not an IP address or localhost'],
    ['advertise address not an IP', { ...good, advertiseAddr: 'host-1.example' }, 'advertiseAddr: "host-1.example" is not an IP address'],
    ['TCP check on port 0', withCheck('127.0.0.1:0'), 'services.0.check.address: "127.0.0.1:0" is not HOST:PORT: the port 0 is outside 1..65535'],
    ['TCP check with a space', withCheck('127.0.0.1: 5432'), 'services.0.check.address: "127.0.0.1: 5432" is not HOST:PORT: it contains a space'],
  ];
  for (const [name, value, want] of table) assert.equal(refusal(value), `invalid agent config /c/agent.json: ${want}`, name);
});

test('every bad address is reported at once', () => {
  const message = refusal({ ...good, adminAddr: ':15000', inboundAddr: '0.0.0.0:65536' });
  assert.match(message, /adminAddr: ":15000" is not HOST:PORT: the host is empty; inboundAddr: "0\.0\.0\.0:65536" is not HOST:PORT: the port 65536 is outside 0\.\.65535$/);
});
