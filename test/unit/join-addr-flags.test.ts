// join's address flags, as a table: what the agent can listen on or be
// reached at passes unchanged; anything else is a usage error naming the flag
// and the value, raised before join touches the host.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { advertiseAddrFlag, listenAddrFlag } from '../../src/cli/join-addr-flags.ts';
import { MeshError } from '../../src/lib/errors.ts';

for (const addr of ['127.0.0.1:15000', '0.0.0.0:15006', '127.0.0.1:0', 'localhost:15000', '[::1]:15000', '[::]:0', '10.1.2.3:65535']) {
  test(`listen address ${addr} is accepted as given`, () => assert.equal(listenAddrFlag(addr, '--admin-addr', '127.0.0.1:15000'), addr));
}

// The reason after "is not HOST:PORT:" comes from the one parser (src/lib/net/host-port.ts, its own golden table).
const refused: Array<[string, string]> = [
  ['nonsense', 'there is no port'],
  ['127.0.0.1', 'there is no port'],
  [':15000', 'the host is empty'],
  ['127.0.0.1:', 'the port "" is not a number'],
  ['127.0.0.1:65536', 'the port 65536 is outside 0..65535'],
  ['127.0.0.1:http', 'the port "http" is not a number'],
  ['example.com:15000', 'the host "example.com" is not an IP address or localhost'],
  ['::1:15000', 'an IPv6 address goes in brackets, as [::1]:PORT'],
  ['[127.0.0.1]:15000', '"127.0.0.1" in brackets is not an IPv6 address (only IPv6 goes in brackets)'],
  ['[::1]', 'there is no port'],
  ['[::1', 'the "[" has no closing "]"'],
  ['999.1.1.1:80', 'the host "999.1.1.1" is not an IP address or localhost'],
  ['127.0.0.1:15000 ', 'it contains a space'],
];
for (const [addr, reason] of refused) {
  test(`listen address ${JSON.stringify(addr)} is a usage error naming the flag, the value, the reason and an example`, () => {
    assert.throws(() => listenAddrFlag(addr, '--inbound-addr', '0.0.0.0:15006'), (error: unknown) => {
      assert.ok(error instanceof MeshError);
      assert.equal(error.code, 'MESH_E_USAGE');
      assert.equal(error.message, `--inbound-addr ${JSON.stringify(addr)} is not HOST:PORT: ${reason}`);
      assert.match(error.hint ?? '', /--inbound-addr 0\.0\.0\.0:15006/);
      return true;
    });
  });
}

test('advertise address: an IP passes, anything else is a usage error', () => {
  assert.equal(advertiseAddrFlag('10.0.0.5'), '10.0.0.5');
  assert.equal(advertiseAddrFlag('fd00::5'), 'fd00::5');
  for (const addr of ['nonsense', '10.0.0.5:80', '', 'host.example']) {
    assert.throws(() => advertiseAddrFlag(addr), (error: unknown) => error instanceof MeshError && error.code === 'MESH_E_USAGE' && error.message === `--advertise-addr ${JSON.stringify(addr)} is not an IP address`);
  }
});
