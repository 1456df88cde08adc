// Transparent mode on the namespace test bed: host 1 runs `client` and host 2
// runs `web`, both joined with --transparent (host 1 with --redirect-dns). An
// unmodified curl on host 1 calls http://web.mesh/ and http://<host 2>:8081/;
// iptables sends both through host 1's proxy, mTLS to host 2's, and on to the
// app. The proxy user's own connections go direct, SSH (22) stays reachable,
// and after leave, iptables-save on both hosts is what it was before join.

import assert from 'node:assert/strict';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';

const NODE = process.execPath;
const PROXY_USER = 'meshctl-proxy';

const APP = `
let hits = 0;
require('node:http').createServer((req, res) => {
  if (req.url === '/hits') return res.end(String(hits));
  hits++;
  res.end('web says hello');
}).listen(8081, '0.0.0.0');`;
// Stands in for sshd: a banner on port 22.
const SSH = `require('node:net').createServer((s) => s.end('SSH-2.0-stand-in\\r\\n')).listen(22, '0.0.0.0');`;
// Connects to HOST:PORT and prints what it read.
const CONNECT = `const s = require('node:net').connect(Number(process.argv[2]), process.argv[1]); let d = ''; s.on('data', (c) => (d += c)); s.on('error', (e) => (d = 'error ' + e.code)); s.on('close', () => console.log(JSON.stringify(d)));`;

let bed: Testbed;
let server: ServerProcess;
let srv: TestbedHost, h1: TestbedHost, h2: TestbedHost;
const before_: Map<string, string> = new Map();
const dirs = (h: TestbedHost) => ['--data-dir', join(h.dir, 'data'), '--config-dir', join(h.dir, 'conf')];

async function meshctl(host: TestbedHost, args: string[]) {
  // The joined hosts' CLI uses the server's TLS API, trusting the roots their agent verified: that port, and only it,
  // goes direct under the rules, so it answers even with outbound_policy=registry_only.
  const r = await host.exec(MESHCTL, args, { env: { ...process.env, MESHCTL_SERVER: server.httpsUrl, MESHCTL_TOKEN: server.token, MESHCTL_CONFIG_DIR: join(host.dir, 'conf') }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meshctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
type Status = { certificates: Array<{ valid: boolean }>; mtls: Record<string, number>; upstreams: Array<{ name: string; passing: number }> };
const status = async (h: TestbedHost) => JSON.parse(await meshctl(h, ['status', '--json'])) as Status;
const hits = async () => Number((await h2.exec('curl', ['-sf', 'http://127.0.0.1:8081/hits'])).stdout);

/** iptables-save of both families, without its timestamped comments and counters. */
async function saved(h: TestbedHost): Promise<string> {
  const parts: string[] = [];
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    const r = await h.exec(tool, []);
    assert.equal(r.code, 0, r.stderr);
    parts.push(r.stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]')).join('\n'));
  }
  return parts.join('\n');
}

before(async () => {
  bed = await createTestbed({ hosts: 3, name: 'transparent' });
  [srv, h1, h2] = bed.hosts as [TestbedHost, TestbedHost, TestbedHost];
  // The agent drops to the proxy user: it must be able to reach its config and data dirs.
  for (const dir of [dirname(h1.dir), h1.dir, h2.dir]) chmodSync(dir, 0o755);
  server = await startServer({ netns: srv.name, host: srv.ip, port: 8500, httpsPort: 8501 });
  h2.spawn(NODE, ['-e', APP]);
  h2.spawn(NODE, ['-e', SSH]);
  await waitFor(async () => (await h2.exec('curl', ['-sf', 'http://127.0.0.1:8081/hits'])).code === 0, 10_000, 'the app');
  // Host 1's resolver (the agent forwards names outside the mesh to it) and a route for the mesh's virtual IPs:
  // the namespaces have no default route, and a connect() needs one before iptables can redirect it.
  h1.setResolvConf(`nameserver ${srv.ip}\n`);
  assert.equal((await h1.exec('ip', ['route', 'add', '240.0.0.0/4', 'dev', h1.iface])).code, 0);
  // Other software's rules, in the same tables and built-in chains: they must come out of join and leave untouched.
  for (const h of [h1, h2]) {
    for (const tool of ['iptables', 'ip6tables']) {
      for (const rule of [['-t', 'nat', '-N', 'OTHER'], ['-t', 'nat', '-A', 'OTHER', '-p', 'tcp', '--dport', '9', '-j', 'RETURN'], ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9', '-j', 'OTHER'], ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '9', '-j', 'RETURN'], ['-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-j', 'ACCEPT']]) {
        const r = await h.exec(tool, rule);
        assert.equal(r.code, 0, `${tool} ${rule.join(' ')}: ${r.stderr}`);
      }
    }
    before_.set(h.name, await saved(h));
  }
  const common = ['--ca-hash', server.caHash, '--token', server.token, '--heartbeat-interval', '1s', '--transparent'];
  await meshctl(h2, ['join', server.httpsUrl, ...common, '--node-name', 'host-2', '--service', 'web=8081', ...dirs(h2)]);
  await meshctl(h1, ['join', server.httpsUrl, ...common, '--redirect-dns', '--node-name', 'host-1', '--service', 'client=7000', ...dirs(h1)]);
  await meshctl(h1, ['config', 'set', 'service-defaults', 'web', 'protocol=http']);
  await meshctl(h1, ['intention', 'allow', 'client', 'web']);
  await waitFor(async () => (await status(h1)).upstreams.find((u) => u.name === 'web')?.passing === 1, 20_000, 'host 1 to see web');
  for (const h of [h1, h2]) await waitFor(async () => (await status(h)).certificates.every((c) => c.valid), 20_000, `the certificates of ${h.name}`);
});

after(async () => {
  await server?.stop();
  await bed?.destroy();
  removeDir(server?.dataDir ?? '');
});

test('an unmodified curl reaches web by name and by instance address, through both proxies with mTLS', async () => {
  const [s1, s2, before] = [await status(h1), await status(h2), await hits()];
  for (const url of ['http://web.mesh/', `http://${h2.ip}:8081/`]) {
    const r = await waitFor(async () => {
      const got = await h1.exec('curl', ['-sS', '--max-time', '5', url]);
      return got.stdout === 'web says hello' ? got : undefined;
    }, 15_000, `curl ${url}`);
    assert.equal(r.code, 0);
  }
  const [t1, t2] = [await status(h1), await status(h2)];
  assert.ok((t1.mtls.redirectedToMesh ?? 0) >= (s1.mtls.redirectedToMesh ?? 0) + 2, `host 1's proxy took both: ${JSON.stringify(t1.mtls)}`);
  assert.ok((t2.mtls.inboundHandshakes ?? 0) > (s2.mtls.inboundHandshakes ?? 0), `host 2's proxy took an mTLS connection: ${JSON.stringify(t2.mtls)}`);
  assert.equal(t2.mtls.plaintextAccepted ?? 0, 0, 'nothing reached host 2 in plaintext');
  assert.ok((await hits()) >= before + 2);
});

test("the proxy user's own connections are not redirected (no loop), and SSH stays reachable", async () => {
  const passedBefore = (await status(h1)).mtls.passedThrough ?? 0;
  const asRoot = await h1.exec(NODE, ['-e', CONNECT, h2.ip, '22'], { timeoutMs: 10_000 });
  assert.equal(JSON.parse(asRoot.stdout), 'SSH-2.0-stand-in\r\n', `root's connection to SSH went through: ${asRoot.stdout} ${asRoot.stderr}`);
  await waitFor(async () => ((await status(h1)).mtls.passedThrough ?? 0) === passedBefore + 1, 5_000, "root's connection to be passed through by the proxy");
  const asProxy = await h1.exec('runuser', ['-u', PROXY_USER, '--', NODE, '-e', CONNECT, h2.ip, '22'], { timeoutMs: 10_000 });
  assert.equal(JSON.parse(asProxy.stdout), 'SSH-2.0-stand-in\r\n', asProxy.stderr);
  assert.equal((await status(h1)).mtls.passedThrough ?? 0, passedBefore + 1, "the proxy user's connection never reached the proxy");
});

test('with outbound_policy=registry_only, a destination outside the mesh is refused, and the mesh still works', async () => {
  const refusedBefore = (await status(h1)).mtls.redirectRefused ?? 0;
  await meshctl(h1, ['config', 'set', 'mesh', 'outbound_policy=registry_only']);
  try {
    await waitFor(async () => {
      const r = await h1.exec(NODE, ['-e', CONNECT, h2.ip, '22'], { timeoutMs: 10_000 });
      return JSON.parse(r.stdout) !== 'SSH-2.0-stand-in\r\n';
    }, 10_000, 'the new outbound policy to refuse a connection outside the mesh');
    assert.ok(((await status(h1)).mtls.redirectRefused ?? 0) > refusedBefore, 'the refusal is counted');
    assert.equal((await h1.exec('curl', ['-sS', '--max-time', '5', 'http://web.mesh/'])).stdout, 'web says hello', 'mesh services still answer');
  } finally {
    await meshctl(h1, ['config', 'set', 'mesh', 'outbound_policy=allow_any']);
  }
});

test('an agent started again applies the rules again, as after a reboot', async () => {
  // A reboot loses the rules; the supervisor starts the agent (as root), which puts them back before it serves.
  assert.equal((await h1.exec(MESHCTL, ['iptables', 'remove'])).code, 0);
  assert.notEqual((await h1.exec('curl', ['-sS', '--max-time', '3', 'http://web.mesh/'])).stdout, 'web says hello', 'without the rules, web.mesh does not resolve');
  const pid = Number(readFileSync(join(h1.dir, 'data', 'agent.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  await waitFor(async () => (await h1.exec('curl', ['-sS', '--max-time', '3', 'http://web.mesh/'])).stdout === 'web says hello', 30_000, 'the restarted agent to apply the rules and serve');
  const shown = await h1.exec(MESHCTL, ['iptables', 'show', '--json']);
  assert.ok((JSON.parse(shown.stdout) as Array<{ lines: string[] }>).some((t) => t.lines.some((l) => l.includes('meshctl:outbound'))), shown.stdout);
});

test('after leave, iptables-save on both hosts is what it was before join', async () => {
  for (const h of [h1, h2]) {
    await meshctl(h, ['leave', ...dirs(h)]);
    assert.equal(await saved(h), before_.get(h.name), `${h.name}: iptables-save after leave`);
  }
});
