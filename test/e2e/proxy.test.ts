// The data plane on the namespace test bed: an app on host 1 calls `web`
// through its upstream port; `web` runs three instances, two on host 2 and one
// on host 3. Traffic, faults and the load generator all start inside the
// namespaces.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, ROOT, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';

const NODE = process.execPath;
const PORT = 8500;

// Tests run in order against one mesh. An ejection lasts 30 s and at most one
// of three instances may be out at once, so the tests that need an ejection
// change the ejection time, which gives them a fresh outlier detector.

// An app whose behaviour /mode/<ok|flaky|slow|fail> switches; it answers with its id; /count says how many requests it served.
const APP = (id: string, port: number) => `
let mode = 'ok', n = 0;
require('node:http').createServer((req, res) => {
  if (req.url.startsWith('/mode/')) { mode = req.url.slice(6); return res.end(mode); }
  if (req.url === '/health') return res.end('ok');
  if (req.url === '/count') return res.end(String(n));
  n++;
  const answer = () => { res.setHeader('x-app', '${id}'); res.end('${id}'); };
  if (mode === 'fail' || (mode === 'flaky' && n % 2 === 0)) { res.statusCode = 503; return res.end('no'); }
  if (mode === 'slow') return setTimeout(answer, 1500);
  answer();
}).listen(${port}, '127.0.0.1');`;

let bed: Testbed;
let server: ServerProcess;
let srv: TestbedHost, h1: TestbedHost, h2: TestbedHost, h3: TestbedHost;
let w2: ChildProcess;
const dirs = (h: TestbedHost) => ['--data-dir', join(h.dir, 'data'), '--config-dir', join(h.dir, 'conf')];

async function meshctl(host: TestbedHost, args: string[]) {
  const r = await host.exec(MESHCTL, args, { env: { ...process.env, MESHCTL_SERVER: `${srv.ip}:${PORT}`, MESHCTL_TOKEN: server.token, MESHCTL_CONFIG_DIR: join(host.dir, 'conf') }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meshctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function load(total: number, concurrency: number, port = 9191, path = '/') {
  const r = await h1.exec(NODE, [join(ROOT, 'test/fixtures/http-load.ts'), String(port), String(total), String(concurrency), path], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { counts: Record<string, number>; p50: number; max: number };
}
const mode = (h: TestbedHost, port: number, m: string) => h.exec('curl', ['-sf', `http://127.0.0.1:${port}/mode/${m}`]);
const setDefaults = (service: string, ...kv: string[]) => meshctl(h1, ['config', 'set', 'service-defaults', service, ...kv]);
/** Waits until host 1's proxy has applied config version > v (the agent's status shows it). */
async function applied(since: number) {
  await waitFor(async () => JSON.parse(await meshctl(h1, ['status', '--json'])).configVersion > since, 10_000, 'the new config to reach host 1');
}
const configVersion = async () => (JSON.parse(await meshctl(h1, ['status', '--json'])) as { configVersion: number }).configVersion;

before(async () => {
  bed = await createTestbed({ hosts: 4, name: 'proxy' });
  [srv, h1, h2, h3] = bed.hosts as [TestbedHost, TestbedHost, TestbedHost, TestbedHost];
  server = await startServer({ netns: srv.name, host: srv.ip, port: PORT, httpsPort: 8501 });
  h2.spawn(NODE, ['-e', APP('w1', 8081)]);
  w2 = h2.spawn(NODE, ['-e', APP('w2', 8082)]);
  h3.spawn(NODE, ['-e', APP('w3', 8081)]);
  h2.spawn(NODE, ['-e', APP('a1', 9081)]);
  h3.spawn(NODE, ['-e', APP('a2', 9081)]);
  h3.spawn(NODE, [join(ROOT, 'test/fixtures/grpc-echo-server.ts'), 'g3', '50051']);
  h3.spawn('redis-server', ['--port', '6379', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  for (const [h, port] of [[h2, 8081], [h2, 8082], [h3, 8081]] as const) {
    await waitFor(async () => (await h.exec('curl', ['-sf', `http://127.0.0.1:${port}/health`])).code === 0, 10_000, 'the apps');
  }
  const common = ['--ca-hash', server.caHash, '--token', server.token, '--heartbeat-interval', '1s'];
  await meshctl(h2, ['join', server.httpsUrl, ...common, '--node-name', 'host-2', '--service', 'web=8081,id=w1,check=http://127.0.0.1:8081/health,interval=1s', '--service', 'web=8082,id=w2,check=http://127.0.0.1:8082/health,interval=1s', '--service', 'api=9081,weight=3', ...dirs(h2)]);
  await meshctl(h3, ['join', server.httpsUrl, ...common, '--node-name', 'host-3', '--service', 'web=8081,id=w3,check=http://127.0.0.1:8081/health,interval=1s', '--service', 'api=9081,weight=1', '--service', 'redis=6379,check=tcp:127.0.0.1:6379,interval=1s', '--service', 'echo=50051,check=tcp:127.0.0.1:50051,interval=1s', ...dirs(h3)]);
  // The caller is a service too: its calls carry its identity (mTLS), which is what intentions decide on.
  await meshctl(h1, ['join', server.httpsUrl, ...common, '--node-name', 'host-1', '--service', 'client=7000', '--upstream', 'web:9191', '--upstream', 'api:9292', '--upstream', 'redis:16379', '--upstream', 'echo:15051', ...dirs(h1)]);
  // A new mesh denies by default: client may call every service here.
  await meshctl(h1, ['intention', 'allow', 'client', '*']);
  await waitFor(async () => {
    const ups = (JSON.parse(await meshctl(h1, ['status', '--json'])) as { upstreams: Array<{ name: string; passing: number }> }).upstreams;
    return ups.find((u) => u.name === 'web')?.passing === 3 && ups.find((u) => u.name === 'api')?.passing === 2 && ups.find((u) => u.name === 'redis')?.passing === 1 && ups.find((u) => u.name === 'echo')?.passing === 1;
  }, 20_000, 'host 1 to see every instance');
  for (const h of [h1, h2, h3]) {
    await waitFor(async () => (JSON.parse(await meshctl(h, ['status', '--json'])) as { certificates: Array<{ valid: boolean }> }).certificates.every((c) => c.valid), 20_000, `the certificates of ${h.name}`);
  }
});

after(async () => {
  await server?.stop();
  await bed?.destroy();
});

test('round_robin spreads 3,000 requests within ±5%', async () => {
  const v = await configVersion();
  await setDefaults('web', 'protocol=http', 'load_balancer.policy=round_robin');
  await applied(v);
  const { counts } = await load(3000, 8);
  for (const id of ['w1', 'w2', 'w3']) {
    assert.ok(Math.abs((counts[id] ?? 0) - 1000) <= 50, `${id} got ${counts[id]} of 3000 (${JSON.stringify(counts)})`);
  }
});

test('an instance failing half its requests is ejected, and retries hide its errors (≥ 99.5% success)', async () => {
  const v = await configVersion();
  // A new ejection time makes a fresh outlier detector, so no ejection left by an earlier test fills the cap.
  await setDefaults('web', 'protocol=http', 'load_balancer.policy=round_robin', 'retries.num_retries=2', 'outlier_detection.base_ejection_time=31s');
  await applied(v);
  await mode(h3, 8081, 'flaky');
  try {
    const { counts } = await load(2000, 8);
    const ok = (counts.w1 ?? 0) + (counts.w2 ?? 0) + (counts.w3 ?? 0);
    assert.ok(ok / 2000 >= 0.995, `success ${ok}/2000 (${JSON.stringify(counts)})`);
    assert.ok((counts.w3 ?? 0) < 400, `the flaky instance was ejected for most of the run: it served ${counts.w3}`);
  } finally {
    await mode(h3, 8081, 'ok');
  }
});

test('a slow instance trips the per-try timeout and its requests are served elsewhere', async () => {
  const v = await configVersion();
  await setDefaults('web', 'protocol=http', 'load_balancer.policy=round_robin', 'retries.num_retries=2', 'retries.per_try_timeout=200ms');
  await applied(v);
  await mode(h2, 8081, 'slow');
  try {
    const { counts, max } = await load(300, 4);
    assert.equal(counts.w1 ?? 0, 0, 'the slow instance answered nothing in time');
    assert.equal((counts.w2 ?? 0) + (counts.w3 ?? 0), 300, JSON.stringify(counts));
    assert.ok(max < 1500, `no request waited for the slow instance (max ${max} ms)`);
  } finally {
    await mode(h2, 8081, 'ok');
  }
});

test('weights 3:1 hold within ±5% with weighted_round_robin', async () => {
  const v = await configVersion();
  await setDefaults('api', 'protocol=http', 'load_balancer.policy=weighted_round_robin');
  await applied(v);
  const { counts } = await load(4000, 8, 9292);
  assert.ok(Math.abs((counts.a1 ?? 0) - 3000) <= 150, `the weight-3 instance got ${counts.a1} of 4000 (${JSON.stringify(counts)})`);
  assert.ok(Math.abs((counts.a2 ?? 0) - 1000) <= 50, `the weight-1 instance got ${counts.a2} of 4000`);
});

test('a TCP service (Redis from Debian) works through the mesh', async () => {
  const cli = (...args: string[]) => h1.exec('redis-cli', ['-h', '127.0.0.1', '-p', '16379', ...args]);
  await waitFor(async () => (await cli('PING')).stdout.trim() === 'PONG', 15_000, 'redis through the mesh');
  assert.equal((await cli('SET', 'mesh', 'works')).stdout.trim(), 'OK');
  assert.equal((await cli('GET', 'mesh')).stdout.trim(), 'works');
  const big = 'x'.repeat(256 * 1024);
  assert.equal((await h1.exec('redis-cli', ['-h', '127.0.0.1', '-p', '16379', '-x', 'SET', 'big'], { input: big })).stdout.trim(), 'OK');
  assert.equal((await cli('STRLEN', 'big')).stdout.trim(), String(big.length), 'a 256 KiB value crossed both hops intact');
});

test('a gRPC service with streaming (@grpc/grpc-js) works through the mesh', async () => {
  const v = await configVersion();
  await setDefaults('echo', 'protocol=grpc');
  await applied(v);
  const r = await h1.exec(NODE, [join(ROOT, 'test/fixtures/grpc-echo-client.ts'), '15051', '20', '200'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { servedBy: { g3: 20 }, echoed: 200, inOrder: true });
});

test('killing an instance mid-load loses no idempotent request', async () => {
  const v = await configVersion();
  // A fresh outlier detector (see above): the slow test's ejection must not keep the killed instance from being ejected.
  await setDefaults('web', 'protocol=http', 'load_balancer.policy=round_robin', 'retries.num_retries=2', 'outlier_detection.base_ejection_time=32s');
  await applied(v);
  const before = Number((await h2.exec('curl', ['-sf', 'http://127.0.0.1:8082/count'])).stdout);
  const running = load(3000, 8);
  // Killed once the load is flowing through it (100 of its ~1,000 served), so requests are in flight when it dies.
  await waitFor(async () => Number((await h2.exec('curl', ['-sf', 'http://127.0.0.1:8082/count'])).stdout) >= before + 100, 20_000, 'the load to reach w2');
  // By its own pid (its process group): a pkill by pattern would reach other test beds' processes too.
  process.kill(-w2.pid!, 'SIGKILL');
  const { counts } = await running;
  const ok = (counts.w1 ?? 0) + (counts.w2 ?? 0) + (counts.w3 ?? 0);
  assert.equal(ok, 3000, `every GET succeeded: ${JSON.stringify(counts)}`);
  w2 = h2.spawn(NODE, ['-e', APP('w2', 8082)]);
});
