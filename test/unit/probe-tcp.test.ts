// The TCP health probe reads its address with the shared parser: a listener
// at IPv4, bracketed IPv6 or a name passes; an address the parser refuses is
// critical with the parser's reason, without a connection attempt.

import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { probeTcp } from '../../src/lib/probes.ts';

let v4: Server;
let v6: Server;
const listen = (host: string) => new Promise<Server>((resolve, reject) => {
  const server = createServer((socket) => socket.end());
  server.once('error', reject);
  server.listen(0, host, () => resolve(server));
});
const portOf = (server: Server) => (server.address() as AddressInfo).port;

before(async () => {
  v4 = await listen('127.0.0.1');
  v6 = await listen('::1');
});
after(() => {
  v4.close();
  v6.close();
});

test('a listener passes at IPv4, bracketed IPv6 and localhost', async () => {
  for (const address of [`127.0.0.1:${portOf(v4)}`, `[::1]:${portOf(v6)}`]) {
    assert.deepEqual(await probeTcp(address, 2000), { status: 'passing', output: `TCP connect ${address}: Success` });
  }
  const byName = await probeTcp(`localhost:${portOf(v4)}`, 2000);
  // localhost may resolve to ::1 first, where nothing listens on v4's port: the name is accepted and looked up either way.
  assert.match(byName.output, /^TCP connect localhost:\d+: (Success|connect ECONNREFUSED)/);
});

test('an address the parser refuses is critical with its reason', async () => {
  const table: Array<[string, string]> = [
    ['127.0.0.1', 'there is no port'],
    ['[::1', 'the "[" has no closing "]"'],
    ['::1:5432', 'an IPv6 address goes in brackets, as [::1]:PORT'],
    ['127.0.0.1:0', 'the port 0 is outside 1..65535'],
    [':5432', 'the host is empty'],
  ];
  for (const [address, reason] of table) {
    assert.deepEqual(await probeTcp(address, 2000), { status: 'critical', output: `TCP connect ${address}: not a host:port address (${reason})` }, address);
  }
});
