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

for (const addr of ['nonsense', '127.0.0.1', ':15000', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:http', 'example.com:15000', '::1:15000', '[127.0.0.1]:15000', '[::1]', '999.1.1.1:80', '127.0.0.1:15000 ']) {
  test(`listen address ${JSON.stringify(addr)} is a usage error naming the flag, the value and an example`, () => {
    assert.throws(() => listenAddrFlag(addr, '--inbound-addr', '0.0.0.0:15006'), (error: unknown) => {
      assert.ok(error instanceof MeshError);
      assert.equal(error.code, 'MESH_E_USAGE');
      assert.equal(error.message, `--inbound-addr ${JSON.stringify(addr)} is not HOST:PORT`);
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
