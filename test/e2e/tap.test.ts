// `meshctl tap` on the namespace test bed: host 1 runs `frontend`, which calls
// `api` (host 2) through its upstream port; the server runs on a host of its
// own. The real CLI taps `api` while interleaved GET /users, POST /users and
// GET /other requests flow, each with a request id the test chose; the events
// must be the matching requests only, from both proxies, and the agents must
// send nothing while no session is open.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';

const NODE = process.execPath;
const PORT = 8500;

const APP = `require('node:http').createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); }).listen(8081, '127.0.0.1');`;

// Rounds of GET /users/i, POST /users/i, GET /other/i through the upstream port, each with x-request-id TAG-KIND-i.
const TRAFFIC = `
const [tag, rounds, pauseMs] = process.argv.slice(1);
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
const one = (method, path, id) => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port: 9191, method, path, agent, headers: { 'x-request-id': id } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', () => resolve(0));
  req.end(method === 'POST' ? '{}' : undefined);
});
(async () => {
  const statuses = {};
  for (let i = 0; i < Number(rounds); i++) {
    for (const [method, path, kind] of [['GET', '/users/' + i, 'get'], ['POST', '/users/' + i, 'post'], ['GET', '/other/' + i, 'other']]) {
      const s = await one(method, path, tag + '-' + kind + '-' + i);
      statuses[s] = (statuses[s] || 0) + 1;
    }
    await new Promise((r) => setTimeout(r, Number(pauseMs)));
  }
  console.log(JSON.stringify(statuses));
  agent.destroy();
})();`;

interface TapStatus { sessions: number; matched: number; sent: number; dropped: number; batches: number }
interface Event { node: string; direction: string; source: string; destination: string; method: string; path: string; status: number; endpoint: string; requestId: string; latencyMs: number }

let bed: Testbed;
let server: ServerProcess;
let srv: TestbedHost, h1: TestbedHost, h2: TestbedHost;
const dirs = (h: TestbedHost) => ['--data-dir', join(h.dir, 'data'), '--config-dir', join(h.dir, 'conf')];
const env = (h: TestbedHost, extra: Record<string, string> = {}) => ({ ...process.env, MESHCTL_SERVER: `${srv.ip}:${PORT}`, MESHCTL_TOKEN: server.token, MESHCTL_CONFIG_DIR: join(h.dir, 'conf'), ...extra });

async function meshctl(host: TestbedHost, args: string[], extra: Record<string, string> = {}) {
  return host.exec(MESHCTL, args, { env: env(host, extra), timeoutMs: 60_000 });
}
async function ok(host: TestbedHost, args: string[]): Promise<string> {
  const r = await meshctl(host, args);
  assert.equal(r.code, 0, `meshctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const tapStatus = async (h: TestbedHost) => (JSON.parse(await ok(h, ['status', '--json'])) as { tap: TapStatus }).tap;
const sessionsOn = async (count: number) => (await tapStatus(h1)).sessions === count && (await tapStatus(h2)).sessions === count;
async function traffic(tag: string, rounds: number, pauseMs = 0): Promise<Record<string, number>> {
  const r = await h1.exec(NODE, ['-e', TRAFFIC, tag, String(rounds), String(pauseMs)], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, number>;
}
function spawnTap(args: string[]): { proc: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const proc = h1.spawn(MESHCTL, ['tap', ...args], { env: env(h1) });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return { proc, out: () => out, err: () => err, exited };
}
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms: ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

before(async () => {
  bed = await createTestbed({ hosts: 3, name: 'tap' });
  [srv, h1, h2] = bed.hosts as [TestbedHost, TestbedHost, TestbedHost];
  server = await startServer({ netns: srv.name, host: srv.ip, port: PORT, httpsPort: 8501 });
  h2.spawn(NODE, ['-e', APP]);
  const common = ['--ca-hash', server.caHash, '--token', server.token, '--heartbeat-interval', '1s'];
  await ok(h2, ['join', server.httpsUrl, ...common, '--node-name', 'host-2', '--service', 'api=8081', ...dirs(h2)]);
  await ok(h1, ['join', server.httpsUrl, ...common, '--node-name', 'host-1', '--service', 'frontend=7000', '--upstream', 'api:9191', ...dirs(h1)]);
  await ok(h1, ['config', 'set', 'service-defaults', 'api', 'protocol=http']);
  await ok(h1, ['intention', 'allow', 'frontend', 'api']);
  await waitFor(async () => (await traffic('warm', 1))['200'] === 3, 30_000, 'frontend to reach api over HTTP');
});

after(async () => {
  await server?.stop();
  await bed?.destroy();
  removeDir(server?.dataDir ?? '');
});

test('with no tap session open, the agents match and send nothing', async () => {
  assert.deepEqual(await traffic('idle', 20), { 200: 60 });
  for (const h of [h1, h2]) assert.deepEqual(await tapStatus(h), { sessions: 0, matched: 0, sent: 0, dropped: 0, batches: 0 }, h.name);
});

test('tap api --path-prefix /users --method GET --max 5 --json prints matching requests only, from both proxies, then the session is gone', async () => {
  const tap = spawnTap(['api', '--path-prefix', '/users', '--method', 'GET', '--max', '5', '--json']);
  await waitFor(() => sessionsOn(1), 10_000, `both agents to see the tap session (tap stderr: ${tap.err()})`);
  // Paced, so that several batches from each proxy reach the stream before the fifth event.
  const load = h1.spawn(NODE, ['-e', TRAFFIC, 'tap', '300', '100']);
  const code = await within(tap.exited, 30_000, `meshctl tap to print 5 events (so far: ${tap.out()} ${tap.err()})`);
  const exitedAt = Date.now();
  assert.equal(code, 0, tap.err());
  await waitFor(() => sessionsOn(0), 2000, 'both agents to drop the ended session');
  const goneAfterMs = Date.now() - exitedAt;
  load.kill('SIGTERM');
  const lines = tap.out().trim().split('\n').map((l) => JSON.parse(l) as Event | { dropped: number });
  const events = lines.filter((l): l is Event => !('dropped' in l));
  assert.equal(events.length, 5, tap.out());
  for (const e of events) {
    assert.equal(e.destination, 'api', JSON.stringify(e));
    assert.equal(e.method, 'GET', JSON.stringify(e));
    assert.ok(e.path.startsWith('/users/'), JSON.stringify(e));
    assert.match(e.requestId, /^tap-get-\d+$/, 'the request id the caller sent, of a GET /users request');
    assert.equal(e.path, `/users/${e.requestId.split('-')[2]}`, 'the id belongs to that very request');
    assert.equal(e.source, 'frontend');
    assert.equal(e.status, 200);
    assert.ok(e.latencyMs >= 0 && e.endpoint !== '', JSON.stringify(e));
    assert.equal(e.node, e.direction === 'outbound' ? 'host-1' : 'host-2', 'the caller\'s proxy is outbound, the callee\'s inbound');
  }
  assert.deepEqual(new Set(events.map((e) => e.direction)), new Set(['outbound', 'inbound']), tap.out());
  console.log(`# tap: 5 events; the agents dropped the session ${goneAfterMs} ms after the CLI exited`);
});

test('once the session has ended the agents send nothing more', async () => {
  const before = [await tapStatus(h1), await tapStatus(h2)];
  assert.deepEqual(await traffic('after', 20), { 200: 60 });
  const now = [await tapStatus(h1), await tapStatus(h2)];
  assert.deepEqual(now.map((s) => [s.sessions, s.matched, s.batches]), before.map((s) => [0, s.matched, s.batches]));
});

test('Ctrl-C ends a tap with exit 0; lines read like linkerd tap', async () => {
  const tap = spawnTap(['api']);
  await waitFor(() => sessionsOn(1), 10_000, 'both agents to see the tap session');
  await traffic('ctrlc', 3);
  await waitFor(() => tap.out().split('\n').filter((l) => l.startsWith('req ')).length >= 6, 10_000, `tap to print lines (so far: ${tap.out()})`);
  tap.proc.kill('SIGINT');
  assert.equal(await within(tap.exited, 10_000, 'tap to exit on SIGINT'), 0, tap.err());
  const first = tap.out().split('\n').find((l) => l.startsWith('req '));
  assert.match(first ?? '', /^req id=ctrlc-(get|post|other)-\d+ proxy=(inbound|outbound) node=host-[12] src=frontend dst=api endpoint=\S+ :method=(GET|POST) :path=\/\S+ status=200 latency=[\d.]+ms$/);
  await waitFor(() => sessionsOn(0), 2000, 'the session to end with the CLI');
});

test('tap errors name the problem and the fix', async () => {
  const unknown = await meshctl(h1, ['tap', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no service "nope" to tap.*meshctl services/);
  const badFilter = await meshctl(h1, ['tap', 'api', '--path-prefix', 'users', '--method', 'G T']);
  assert.equal(badFilter.code, 2);
  assert.match(badFilter.stderr, /must start with '\/'.*not an HTTP method/);
  const badMax = await meshctl(h1, ['tap', 'api', '--max', '0']);
  assert.equal(badMax.code, 2);
  const read = JSON.parse(await ok(h1, ['token', 'create', '--policy', 'read', '--json'])) as { SecretID: string };
  const readOnly = await meshctl(h1, ['tap', 'api'], { MESHCTL_TOKEN: read.SecretID });
  assert.equal(readOnly.code, 1);
  assert.match(readOnly.stderr, /refused the token.*read-only tokens cannot tap: use a management token/);
  const bogus = await meshctl(h1, ['tap', 'api'], { MESHCTL_TOKEN: '00000000-0000-0000-0000-000000000000' });
  assert.equal(bogus.code, 1);
  assert.match(bogus.stderr, /ACL not found/);
  const away = await meshctl(h1, ['tap', 'api'], { MESHCTL_SERVER: '127.0.0.1:1' });
  assert.equal(away.code, 1);
  assert.match(away.stderr, /cannot reach the meshctl server.*--server/);
});
