// check and join read port flags with the same parser: what one accepts the
// other does, and a refusal names the flag and the value given.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshError } from '../../src/lib/errors.ts';
import { parseHostPortFlag, parsePortFlag } from '../../src/cli/port-flag.ts';

const refusal = (fn: () => unknown): { message: string; hint: string | undefined; code: string } => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof MeshError);
    return { message: error.message, hint: error.hint, code: error.code };
  }
  assert.fail('accepted');
};

test('a port flag takes 0..65535 where 0 picks a free port, 1..65535 elsewhere', () => {
  assert.equal(parsePortFlag('0', '--metrics-port', { min: 0 }), 0);
  assert.equal(parsePortFlag('65535', '--metrics-port', { min: 0 }), 65535);
  assert.equal(parsePortFlag('1', '--dns-port', { min: 1 }), 1);
  const cases: Array<[string, string, 0 | 1, string, string]> = [
    ['abc', '--metrics-port', 0, '--metrics-port "abc" is not a port', 'give --metrics-port 0..65535 (0 picks a free port)'],
    ['70000', '--metrics-port', 0, '--metrics-port "70000" is not a port', 'give --metrics-port 0..65535 (0 picks a free port)'],
    ['', '--metrics-port', 0, '--metrics-port "" is not a port', 'give --metrics-port 0..65535 (0 picks a free port)'],
    ['-1', '--metrics-port', 0, '--metrics-port "-1" is not a port', 'give --metrics-port 0..65535 (0 picks a free port)'],
    ['0', '--dns-port', 1, '--dns-port "0" is not a port', 'give --dns-port 1..65535'],
    ['15001.5', '--outbound-port', 1, '--outbound-port "15001.5" is not a port', 'give --outbound-port 1..65535'],
  ];
  for (const [text, flag, min, message, hint] of cases) {
    assert.deepEqual(refusal(() => parsePortFlag(text, flag, { min })), { message, hint, code: 'MESH_E_USAGE' }, `${flag} ${text}`);
  }
});

test("an address flag takes HOST:PORT and [v6]:PORT as join does (join-addr-flags.ts), and names the value it refuses", () => {
  assert.deepEqual(parseHostPortFlag('127.0.0.1:15000', '--admin-addr', '127.0.0.1:15000'), { host: '127.0.0.1', port: 15000 });
  assert.deepEqual(parseHostPortFlag('[::1]:0', '--admin-addr', '127.0.0.1:15000'), { host: '::1', port: 0 });
  assert.deepEqual(parseHostPortFlag('localhost:15006', '--inbound-addr', '0.0.0.0:15006'), { host: 'localhost', port: 15006 });
  const hint = 'give an IP address and a port 0..65535, e.g. --admin-addr 127.0.0.1:15000 (IPv6 in brackets: [::1]:PORT)';
  const cases: Array<[string, string]> = [
    ['nonsense', 'there is no port'],
    [':15000', 'the host is empty'],
    ['127.0.0.1:', 'the port "" is not a number'],
    ['127.0.0.1:99999', 'the port 99999 is outside 0..65535'],
    ['127.0.0.1:x', 'the port "x" is not a number'],
    ['example.com:15000', 'the host "example.com" is not an IP address or localhost'],
  ];
  for (const [text, reason] of cases) {
    assert.deepEqual(refusal(() => parseHostPortFlag(text, '--admin-addr', '127.0.0.1:15000')), { message: `--admin-addr "${text}" is not HOST:PORT: ${reason}`, hint, code: 'MESH_E_USAGE' }, text);
  }
});
