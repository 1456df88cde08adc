// Soak: certificate renewal under load on the namespace test bed. The server
// issues 5-minute leaves; for MESHCTL_RENEWAL_MINUTES (default 15) host 1's
// `client` opens a new TCP connection to `echo` on host 2 several times a
// second (each one a fresh mTLS handshake between the proxies) while an HTTP
// load runs over pooled connections. No connection, no request and no
// handshake may fail, and each host must renew its leaf at least twice.
// Run with `npm run soak`; not part of npm test.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, ROOT, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';

const MINUTES = Number(process.env.MESHCTL_RENEWAL_MINUTES ?? 15);
const NODE = process.execPath;
const PORT = 8500;

const HTTP_APP = `require('node:http').createServer((req, res) => res.end('web')).listen(8081, '127.0.0.1');`;
const ECHO_APP = `require('node:net').createServer((s) => s.pipe(s)).listen(7070, '127.0.0.1');`;
// New TCP connections through the mesh, one after another, for the given time: each sends a line and expects it back.
const CONNECTOR = `
const net = require('node:net');
const until = Date.now() + Number(process.argv[1]);
let ok = 0; const failures = {};
function one() {
  if (Date.now() >= until) return console.log(JSON.stringify({ ok, failures }));
  const line = 'ping-' + ok + '\\n';
  const socket = net.connect(17070, '127.0.0.1', () => socket.write(line));
  let got = '';
  const timer = setTimeout(() => socket.destroy(new Error('timeout')), 5000);
  socket.on('data', (d) => { got += d; if (got === line) { ok++; clearTimeout(timer); socket.end(); } });
  socket.on('error', (e) => { failures[e.message] = (failures[e.message] || 0) + 1; });
  socket.on('close', () => { clearTimeout(timer); if (got !== line) failures['short answer'] = (failures['short answer'] || 0) + 1; setTimeout(one, 100); });
}
one();`;

let bed: Testbed;
let server: ServerProcess;
let srv: TestbedHost, h1: TestbedHost, h2: TestbedHost;
const dirs = (h: TestbedHost) => ['--data-dir', join(h.dir, 'data'), '--config-dir', join(h.dir, 'conf')];

async function meshctl(host: TestbedHost, args: string[]) {
  const r = await host.exec(MESHCTL, args, { env: { ...process.env, MESHCTL_SERVER: `${srv.ip}:${PORT}`, MESHCTL_TOKEN: server.token, MESHCTL_CONFIG_DIR: join(host.dir, 'conf') }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meshctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
type Status = { certificates: Array<{ service: string; notAfter: string; valid: boolean }>; mtls: Record<string, number> };
const status = async (h: TestbedHost) => JSON.parse(await meshctl(h, ['status', '--json'])) as Status;

before(async () => {
  bed = await createTestbed({ hosts: 3, name: 'renewal' });
  [srv, h1, h2] = bed.hosts as [TestbedHost, TestbedHost, TestbedHost];
  server = await startServer({ netns: srv.name, host: srv.ip, port: PORT, httpsPort: 8501, extraArgs: ['--leaf-ttl', '5m'] });
  h2.spawn(NODE, ['-e', HTTP_APP]);
  h2.spawn(NODE, ['-e', ECHO_APP]);
  const common = ['--ca-hash', server.caHash, '--token', server.token, '--heartbeat-interval', '1s'];
  await meshctl(h2, ['join', server.httpsUrl, ...common, '--node-name', 'host-2', '--service', 'web=8081', '--service', 'echo=7070', ...dirs(h2)]);
  await meshctl(h1, ['join', server.httpsUrl, ...common, '--node-name', 'host-1', '--service', 'client=7000', '--upstream', 'web:9191', '--upstream', 'echo:17070', ...dirs(h1)]);
  await meshctl(h1, ['config', 'set', 'service-defaults', 'web', 'protocol=http']);
  await meshctl(h1, ['intention', 'allow', 'client', '*']);
  await waitFor(async () => (await h1.exec('curl', ['-sf', 'http://127.0.0.1:9191/'])).stdout === 'web', 30_000, 'client to reach web');
});

after(async () => {
  await server?.stop();
  await bed?.destroy();
  removeDir(server?.dataDir ?? '');
});

test(`${MINUTES} minutes of load across 5-minute leaves: no handshake, connection or request fails`, { timeout: (MINUTES + 5) * 60_000 }, async () => {
  const durationMs = MINUTES * 60_000;
  const seen = new Map<string, Set<string>>();
  const record = async (h: TestbedHost) => {
    for (const c of (await status(h)).certificates) {
      const key = `${h.name}/${c.service}`;
      if (!seen.has(key)) seen.set(key, new Set());
      seen.get(key)!.add(c.notAfter);
    }
  };
  const connector = h1.exec(NODE, ['-e', CONNECTOR, String(durationMs)], { timeoutMs: durationMs + 60_000 });
  const load = h1.exec(NODE, [join(ROOT, 'test/fixtures/http-load.ts'), '9191', `for=${durationMs}`, '4'], { timeoutMs: durationMs + 60_000 });
  const started = Date.now();
  while (Date.now() - started < durationMs) {
    await record(h1);
    await record(h2);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
  const [c, l] = await Promise.all([connector, load]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(l.code, 0, l.stderr);
  const connections = JSON.parse(c.stdout) as { ok: number; failures: Record<string, number> };
  const requests = JSON.parse(l.stdout) as { counts: Record<string, number>; total: number };
  const [s1, s2] = [await status(h1), await status(h2)];
  const figures = { connections, requests: { total: requests.total, counts: requests.counts }, h1: s1.mtls, h2: s2.mtls, leaves: Object.fromEntries([...seen].map(([k, v]) => [k, v.size])) };
  console.log(`renewal soak: ${JSON.stringify(figures)}`);
  assert.deepEqual(connections.failures, {}, 'no TCP connection (each a new handshake) failed');
  assert.ok(connections.ok > MINUTES * 60 * 2, `connections kept coming (${connections.ok})`);
  assert.deepEqual(requests.counts, { web: requests.total }, 'every HTTP request succeeded');
  assert.equal(s2.mtls.inboundHandshakeFailures, 0, 'host 2 refused no handshake');
  assert.equal(s2.mtls.peersRefused, 0);
  for (const [key, leaves] of seen) {
    if (MINUTES >= 15) assert.ok(leaves.size >= 3, `${key} renewed at least twice (${leaves.size} leaves seen)`);
  }
});
