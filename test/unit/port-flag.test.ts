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

test('an address flag takes HOST:PORT and [v6]:PORT, and names the value it refuses', () => {
  assert.deepEqual(parseHostPortFlag('127.0.0.1:15000', '--admin-addr'), { host: '127.0.0.1', port: 15000 });
  assert.deepEqual(parseHostPortFlag('[::1]:0', '--admin-addr'), { host: '::1', port: 0 });
  assert.deepEqual(parseHostPortFlag('localhost:15006', '--inbound-addr'), { host: 'localhost', port: 15006 });
  const hint = 'give --admin-addr as HOST:PORT with a port 0..65535 (0 picks a free port), e.g. 127.0.0.1:15000 or [::1]:15000';
  for (const text of ['nonsense', ':15000', '127.0.0.1:', '127.0.0.1:99999', '127.0.0.1:x']) {
    assert.deepEqual(refusal(() => parseHostPortFlag(text, '--admin-addr')), { message: `--admin-addr "${text}" is not HOST:PORT`, hint, code: 'MESH_E_USAGE' }, text);
  }
});
