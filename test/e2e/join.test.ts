// `meshctl join` / `leave` on a test bed of namespace hosts: a server in one
// namespace, agents on three others, each with its own dirs and an app whose
// health can be switched. Every API call starts inside a namespace.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';

const NODE = process.execPath;
const SERVER_PORT = 8500;
const SERVER_TLS_PORT = 8501;
const CHECK_INTERVAL_MS = 1000;

// An app with a health endpoint that /fail and /heal switch.
const APP = `
let healthy = true;
require('node:http').createServer((req, res) => {
  if (req.url === '/fail') healthy = false;
  if (req.url === '/heal') healthy = true;
  res.statusCode = req.url === '/health' && !healthy ? 500 : 200;
  res.end(healthy ? 'ok' : 'failing');
}).listen(8080, '0.0.0.0');`;

let bed: Testbed;
let server: ServerProcess;
let serverHost: TestbedHost;
let agents: TestbedHost[];
const dirs = (h: TestbedHost) => ({ data: join(h.dir, 'data'), conf: join(h.dir, 'conf') });

async function meshctl(host: TestbedHost, args: string[], env: Record<string, string> = {}) {
  return host.exec(MESHCTL, args, { env: { ...process.env, MESHCTL_CONFIG_DIR: dirs(host).conf, ...env }, timeoutMs: 40_000 });
}

/** A Consul API GET made from inside a host, with curl. */
async function consulGet<T>(host: TestbedHost, path: string): Promise<T> {
  const r = await host.exec('curl', ['-sf', '--max-time', '5', '-H', `X-Consul-Token: ${server.token}`, `http://${serverHost.ip}:${SERVER_PORT}${path}`]);
  if (r.code !== 0) throw new Error(`curl ${path} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
const passingWeb = async (from: TestbedHost) => (await consulGet<Array<{ Node: { Node: string } }>>(from, '/v1/health/service/web?passing')).map((e) => e.Node.Node).sort();
const agentPid = async (h: TestbedHost) => Number((await h.exec('cat', [join(dirs(h).data, 'agent.pid')])).stdout.trim());

async function status(h: TestbedHost) {
  const r = await meshctl(h, ['status', '--json']);
  return JSON.parse(r.stdout) as { agent: string; pid: number; serverReachable: boolean; ready: boolean; snapshot: { loadedFromDisk: boolean }; upstreams: Array<{ name: string; instances: number }> };
}

before(async () => {
  bed = await createTestbed({ hosts: 4, name: 'join' });
  [serverHost, ...agents] = bed.hosts as [TestbedHost, ...TestbedHost[]];
  server = await startServer({ netns: serverHost.name, host: serverHost.ip, port: SERVER_PORT, httpsPort: SERVER_TLS_PORT });
  for (const h of agents) h.spawn(NODE, ['-e', APP]);
});

after(async () => {
  await server?.stop();
  await bed?.destroy();
});

test('join registers each host\'s services, seen by meshctl services and the Consul API', async () => {
  for (const [i, h] of agents.entries()) {
    const made = await meshctl(h, ['token', 'create', '--policy', 'agent', '--node', `host-${i + 1}`, '--service', 'web', '--json', '--server', `${serverHost.ip}:${SERVER_PORT}`, '--token', server.token]);
    assert.equal(made.code, 0, made.stderr);
    const token = (JSON.parse(made.stdout) as { SecretID: string }).SecretID;
    await waitFor(async () => (await h.exec('curl', ['-sf', 'http://127.0.0.1:8080/health'])).code === 0, 10_000, 'the app');
    const joined = await meshctl(h, [
      'join', `${serverHost.ip}:${SERVER_TLS_PORT}`, '--ca-hash', server.caHash, '--token', token, '--node-name', `host-${i + 1}`,
      '--service', `web=8080,check=http://127.0.0.1:8080/health,interval=${CHECK_INTERVAL_MS}ms,tags=v1`,
      ...(i === 0 ? ['--upstream', 'web:9191'] : []),
      '--data-dir', dirs(h).data, '--config-dir', dirs(h).conf, '--heartbeat-interval', '1s', '--sync-interval', '2s',
    ]);
    assert.equal(joined.code, 0, `join on host-${i + 1}: ${joined.stderr}`);
    assert.match(joined.stdout, /joined https:\/\/.* as node host-\d/);
  }
  const listed = await meshctl(agents[0]!, ['services', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const web = (JSON.parse(listed.stdout) as Array<{ name: string; instances: Array<{ node: string; address: string; status: string }> }>).find((s) => s.name === 'web');
  assert.deepEqual(web?.instances.map((i) => i.node).sort(), ['host-1', 'host-2', 'host-3']);
  assert.deepEqual(web?.instances.map((i) => i.address).sort(), agents.map((h) => h.ip).sort(), 'each instance at its host\'s address');
  await waitFor(async () => (await passingWeb(agents[0]!)).length === 3, 10_000, 'three passing instances');
  // Each host got a certificate for its service from the mesh CA, with its own key.
  for (const h of agents) {
    await waitFor(async () => (JSON.parse((await meshctl(h, ['status', '--json'])).stdout) as { certificates: Array<{ service: string; valid: boolean; spiffeId: string }> }).certificates.some((c) => c.service === 'web' && c.valid && /^spiffe:\/\/.*\.mesh\/ns\/default\/dc\/dc1\/svc\/web$/.test(c.spiffeId)), 15_000, `${h.name}'s certificate`);
  }
  const entries = await consulGet<Array<{ Node: string; ServicePort: number; ServiceTags: string[] }>>(agents[1]!, '/v1/catalog/service/web');
  assert.deepEqual(entries.map((e) => [e.Node, e.ServicePort, e.ServiceTags]), [['host-1', 8080, ['v1']], ['host-2', 8080, ['v1']], ['host-3', 8080, ['v1']]]);
});

test('a failing HTTP check takes its instance out of ?passing within two check intervals', async () => {
  const failing = agents[1]!;
  assert.equal((await failing.exec('curl', ['-sf', 'http://127.0.0.1:8080/fail'])).code, 0);
  const started = Date.now();
  await waitFor(async () => !(await passingWeb(agents[0]!)).includes('host-2'), 5_000, 'host-2 to leave ?passing');
  const took = Date.now() - started;
  assert.ok(took <= 2 * CHECK_INTERVAL_MS, `left ?passing after ${took} ms (limit ${2 * CHECK_INTERVAL_MS} ms)`);
  await failing.exec('curl', ['-sf', 'http://127.0.0.1:8080/heal']);
  await waitFor(async () => (await passingWeb(agents[0]!)).includes('host-2'), 5_000, 'host-2 to come back');
});

test('after kill -9 of an agent the supervisor restarts it and the catalog never loses the instance', async () => {
  const victim = agents[2]!;
  const before = await agentPid(victim);
  let polls = 0;
  let missing = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const nodes = (await consulGet<Array<{ Node: string }>>(agents[0]!, '/v1/catalog/service/web')).map((e) => e.Node);
      polls += 1;
      if (!nodes.includes('host-3')) missing += 1;
    }
  })();
  try {
    assert.equal((await victim.exec('kill', ['-9', String(before)])).code, 0);
    const after = await waitFor(async () => {
      const pid = await agentPid(victim).catch(() => 0);
      return pid && pid !== before ? pid : undefined;
    }, 15_000, 'a new agent pid');
    await waitFor(async () => (await status(victim)).ready, 15_000, 'the restarted agent to be ready');
    assert.equal((await status(victim)).pid, after);
  } finally {
    watching = false;
    await watcher;
  }
  assert.ok(polls >= 3, `watched the catalog ${polls} times`);
  assert.equal(missing, 0, 'host-3 was in the catalog at every poll');
});

test('with the control plane stopped for 30 s the agents keep running, a restarted one serves its snapshot, and all rejoin', async () => {
  await server.stop();
  const outageStart = Date.now();
  // While it is down: every agent is up and knows the server is unreachable.
  for (const h of agents) await waitFor(async () => (await status(h)).serverReachable === false, 10_000, `${h.name} to notice the outage`);
  // A host whose agent restarts during the outage starts from its last snapshot.
  const first = agents[0]!;
  const before = await agentPid(first);
  await first.exec('kill', ['-9', String(before)]);
  await waitFor(async () => {
    const s = await status(first);
    return s.pid !== before && s.ready && s.snapshot.loadedFromDisk;
  }, 15_000, 'the restarted agent to serve its snapshot');
  assert.equal((await status(first)).upstreams.find((u) => u.name === 'web')?.instances, 3, 'it still knows the three web instances');
  // The app on each host keeps serving: the outage changes nothing on a running host.
  for (const h of agents) assert.equal((await h.exec('curl', ['-sf', 'http://127.0.0.1:8080/health'])).code, 0);
  const remaining = 30_000 - (Date.now() - outageStart);
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining)); // the outage itself, not a synchronisation
  server = await startServer({ netns: serverHost.name, host: serverHost.ip, port: SERVER_PORT, httpsPort: SERVER_TLS_PORT, dataDir: server.dataDir });
  for (const h of agents) await waitFor(async () => (await status(h)).serverReachable, 15_000, `${h.name} to reconnect`);
  await waitFor(async () => (await passingWeb(agents[1]!)).length === 3, 15_000, 'three passing instances again');
});

test('leave removes every trace: no process, no registration, no files; leave again does nothing', async () => {
  for (const [i, h] of agents.entries()) {
    const left = await meshctl(h, ['leave', '--data-dir', dirs(h).data, '--config-dir', dirs(h).conf]);
    assert.equal(left.code, 0, left.stderr);
    assert.match(left.stdout, new RegExp(`deregistered node host-${i + 1}`));
    const ps = await h.exec('sh', ['-c', `for p in $(ip netns pids ${h.name}); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done`]);
    assert.doesNotMatch(ps.stdout, /main\.js (agent|supervise)/, 'no agent or supervisor process is left');
    assert.equal((await h.exec('test', ['-e', dirs(h).conf])).code, 1, 'the config dir is gone');
    assert.equal((await h.exec('test', ['-e', dirs(h).data])).code, 1, 'the data dir is gone');
    const again = await meshctl(h, ['leave', '--data-dir', dirs(h).data, '--config-dir', dirs(h).conf]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to do/);
  }
  const nodes = (await consulGet<Array<{ Node: string }>>(serverHost, '/v1/catalog/nodes')).map((n) => n.Node);
  assert.deepEqual(nodes.filter((n) => n.startsWith('host-')), []);
  assert.deepEqual(await consulGet(serverHost, '/v1/health/service/web'), []);
});
