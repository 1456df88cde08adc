// The SO_ORIGINAL_DST addon against real iptables REDIRECTs, in a network
// namespace of its own (so the host's tables are never touched): a
// connection to HOST:9999, IPv4 and IPv6, lands on the listener at 15001,
// which recovers where it was going; an IPv4 connection to HOST:9998 lands on
// a dual-stack listener (`::`, ipv6Only false) at 15002 as ::ffff:a.b.c.d and
// still recovers its IPv4 destination; a connection made to the listener
// directly was not redirected and says so.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';

let bed: Testbed;
let host: TestbedHost;

const PROBE = `
import { createServer, connect } from 'node:net';
import { originalDestination } from ${JSON.stringify(join(ROOT, 'src/iptables/original-dst.ts'))};
const [target4, target6] = process.argv.slice(1);
const seen = [];
const listen = (host, port = 15001, ipv6Only = undefined) => new Promise((resolve) => {
  const server = createServer((socket) => { seen.push(originalDestination(socket) ?? null); socket.end(); });
  server.listen({ port, host, ipv6Only }, () => resolve(server));
});
const servers = [await listen('127.0.0.1'), await listen('::1'), await listen('::', 15002, false)];
const call = (host, port) => new Promise((resolve) => { const s = connect(port, host); s.on('close', resolve); s.on('error', () => {}); });
await call(target4, 9999);
await call(target6, 9999);
await call(target4, 9998);
await call('127.0.0.1', 15001);
await call('127.0.0.1', 15002);
console.log(JSON.stringify(seen));
for (const s of servers) s.close();
`;

before(async () => {
  bed = await createTestbed({ hosts: 1, name: 'odst' });
  host = bed.hosts[0] as TestbedHost;
  for (const tool of ['iptables', 'ip6tables']) {
    const r = await host.exec(tool, ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9999', '-j', 'REDIRECT', '--to-ports', '15001']);
    assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
  }
  const r = await host.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9998', '-j', 'REDIRECT', '--to-ports', '15002']);
  assert.equal(r.code, 0, `iptables: ${r.stderr}`);
});
after(async () => {
  await bed?.destroy();
});

test('a redirected connection recovers its original destination, IPv4, IPv6 and IPv4 on a dual-stack listener; a direct one has none', async () => {
  const r = await host.exec(process.execPath, ['--input-type=module', '-e', PROBE, host.ip, '::1'], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    { address: host.ip, port: 9999, family: 4 },
    { address: '::1', port: 9999, family: 6 },
    { address: host.ip, port: 9998, family: 4 },
    null,
    null,
  ]);
});
