// `meshctl demo --no-dashboard`, the built CLI, end to end: it comes up (the
// printed server answers, every host's services pass in the catalog, the
// traffic generator's requests come back through frontend → api → db), its
// mesh is a secure one (ACLs on: anonymous requests and the printed read-only
// token cannot write, the read-only token reads `meshctl services`, the
// management token in its 0600 file can; each host joined the TLS API with
// the CA pinned and an agent token of its own), and
// a signal removes everything it made: exit 0, no namespace or gateway veth
// with its prefix, no process carrying its run marker, no temp dir. Once
// on namespaces with SIGINT, once on loopback addresses with SIGTERM sent
// twice (the second arrives during cleanup and must not cut it short).

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { cliFor } from '../helpers/cli.ts';
import { MESHCTL, waitFor } from '../helpers/server.ts';

interface TrafficStatus {
  sent: number;
  answered: number;
  ok: number;
  failed: number;
  byStatus: Record<string, number>;
}

async function getJson<T>(url: string, token?: string): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000), headers: token ? { 'X-Consul-Token': token } : {} });
    return res.ok ? ((await res.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** Processes whose environment carries the run's marker: the demo's children, wherever their process group is. */
function markedProcesses(prefix: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`MESHCTL_DEMO_RUN=${prefix}`)) found.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return found;
}

/**
 * The demo's mesh is set up as the README tells an operator to: ACLs on
 * (anonymous reads of the catalog and any write refused), the printed
 * read-only token reads but cannot write, the management token in its 0600
 * file can, and every host joined the TLS API with the CA pinned and an
 * agent token of its own, never with --insecure-skip-verify.
 */
async function assertSecureMesh(out: string, serverUrl: string, tmpDir: string, prefix: string): Promise<void> {
  const readToken = /try\s+MESHCTL_SERVER=\S+ MESHCTL_TOKEN=(\S+) meshctl services/.exec(out)?.[1];
  assert.ok(readToken, `the try line carries the read-only token:\n${out}`);
  assert.match(out, new RegExp(`tokens\\s+read-only ${readToken} `), 'the tokens line names the same one');
  assert.doesNotMatch(out, /ACLs off|no ACLs|dev mode/);
  const managementFile = /management in (\S+) \(mode 0600\)/.exec(out)?.[1];
  assert.ok(managementFile && managementFile.startsWith(`${tmpDir}/`), `the management token's file is in the temp dir:\n${out}`);
  assert.equal(statSync(managementFile).mode & 0o777, 0o600);
  const managementToken = readFileSync(managementFile, 'utf8').trim();
  assert.ok(!out.includes(managementToken), 'the management secret itself is not printed');

  const put = (path: string, token?: string) => fetch(`${serverUrl}${path}`, { method: 'PUT', body: 'x', headers: token ? { 'X-Consul-Token': token } : {}, signal: AbortSignal.timeout(5_000) });
  assert.equal((await put('/v1/kv/demo-acl-probe')).status, 403, 'an anonymous write is refused');
  assert.equal((await fetch(`${serverUrl}/v1/health/service/frontend`, { signal: AbortSignal.timeout(5_000) })).status, 403, 'an anonymous read of the catalog is refused');
  const refused = await put('/v1/kv/demo-acl-probe', readToken);
  assert.equal(refused.status, 403, 'the read-only token cannot write');
  assert.match(await refused.text(), /Permission denied: .* lacks permission 'key:write'/);
  assert.equal((await put('/v1/kv/demo-acl-probe', managementToken)).status, 200, 'the management token in the file can');

  // The printed try line, as the user would run it (no agent config of this machine in the way).
  const cli = cliFor(() => ({ address: serverUrl, token: readToken }));
  const services = cli.run(['services']);
  assert.equal(services.code, 0, services.stderr);
  for (const service of ['frontend', 'api', 'db', 'traffic']) assert.match(services.stdout, new RegExp(`^${service}\\s+\\d+/\\d+`, 'm'), services.stdout);
  const write = cli.run(['intention', 'deny', 'traffic', 'db']);
  assert.equal(write.code, 1, `a write with the read-only token exits 1: ${write.stdout}${write.stderr}`);
  assert.match(write.stderr, /error: the server refused the token: Permission denied: .* lacks permission/);
  const intentions = cli.run(['intention', 'list', '--json']);
  assert.equal(intentions.code, 0, intentions.stderr);
  const written = (JSON.parse(intentions.stdout) as Array<{ SourceName: string; DestinationName: string }>).map((i) => `${i.SourceName}→${i.DestinationName}`).sort();
  assert.deepEqual(written, ['api→db', 'frontend→api', 'traffic→frontend'], 'the refused write changed nothing');

  // Each host's agent: the TLS API, the CA pinned, its own agent token (not the management or read-only one).
  const agentTokens = new Set<string>();
  for (const node of ['host-1', 'host-2', 'host-3']) {
    const config = JSON.parse(readFileSync(`${tmpDir}/${node}/conf/agent.json`, 'utf8')) as { server: string; serverCaPem?: string[]; insecureSkipVerify?: boolean; token: string };
    assert.match(config.server, /^https:\/\//, `${node} joined the TLS API`);
    assert.ok((config.serverCaPem?.length ?? 0) > 0 && config.insecureSkipVerify === undefined, `${node} verifies the server by the pinned CA`);
    assert.ok(config.token && config.token !== managementToken && config.token !== readToken, `${node} has an agent token of its own`);
    agentTokens.add(config.token);
  }
  assert.equal(agentTokens.size, 3, 'one agent token per host');
  const joins = markedProcesses(prefix).map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).filter((argv) => argv.includes('join'));
  assert.equal(joins.length, 3, 'three join processes');
  for (const argv of joins) {
    assert.ok(argv.includes('--ca-hash') && !argv.includes('--insecure-skip-verify'), argv.join(' '));
    assert.ok(![...agentTokens].some((t) => argv.includes(t)), 'no token in a join\'s argv');
  }
}

function inGroup(pgid: number): number[] {
  return execFileSync('ps', ['-eo', 'pid=,pgid='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([pid, group]) => group === pgid && pid !== undefined && pid > 0)
    .map(([pid]) => pid!);
}

/** Runs as uid/gid 65534 (nobody), through util-linux's setpriv, which execs: the pid stays the demo's. */
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

function startDemo(args: string[], asNobody: boolean) {
  const argv = [...(asNobody ? AS_NOBODY : []), MESHCTL, 'demo', '--no-dashboard', ...args];
  // Its own process group, as a terminal would give it, so what it leaves there can be checked.
  return spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, NO_COLOR: '1' } });
}

async function runDemo(mode: 'netns' | 'loopback' | 'auto', signals: NodeJS.Signals[], asNobody = false): Promise<void> {
  const demo = startDemo(['--hosts-mode', mode, '--rate', '50'], asNobody);
  let out = '';
  demo.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('close', (code) => resolve(code)));
  let prefix = '';
  let tmpDir = '';
  try {
    const serverUrl = await waitFor(() => /server up at (http:\/\/\S+)/.exec(out)?.[1], 30_000, `the server line:\n${out}`);
    assert.ok(await getJson(`${serverUrl}/v1/status/leader`), 'the printed server answers (its status, to anyone)');
    const statusUrl = await waitFor(() => /traffic\s+(http:\/\/\S+\/status)/.exec(out)?.[1], 90_000, `the demo to come up:\n${out}`);
    const token = /MESHCTL_TOKEN=(\S+)/.exec(out)![1]!;
    tmpDir = /logs\s+(\S+)/.exec(out)![1]!;
    prefix = /meshctl-demo-(md[0-9a-z]+)-/.exec(tmpDir)![1]!;
    assert.ok(existsSync(tmpDir));
    if (asNobody) assert.match(out, /hosts: 127\.0\.X\.1-3 on this machine's loopback \(network namespaces need root/, 'without root the default is loopback, and it says why');
    if (mode === 'netns') {
      const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      assert.equal(namespaces.split('\n').filter((l) => l.startsWith(`${prefix}-`)).length, 4, namespaces);
    }

    // Every host's services are in the catalog and passing.
    for (const [service, count] of [['frontend', 1], ['api', 2], ['db', 1], ['traffic', 1]] as const) {
      await waitFor(async () => ((await getJson<unknown[]>(`${serverUrl}/v1/health/service/${service}?passing`, token))?.length ?? 0) === count, 30_000, `${count} passing instance(s) of ${service}`);
    }
    const api = (await getJson<Array<{ Node: { Node: string }; Service: { Tags: string[] } }>>(`${serverUrl}/v1/health/service/api`, token))!;
    assert.deepEqual(api.map((e) => `${e.Node.Node}:${e.Service.Tags.join(',')}`).sort(), ['host-2:v1', 'host-3:v2']);

    // Traffic flows end to end: 300 more answers, nearly all 200 (db fails 2%, seeded), the rest db's 500s.
    const first = (await getJson<TrafficStatus>(statusUrl))!;
    const later = await waitFor(async () => {
      const s = await getJson<TrafficStatus>(statusUrl);
      return s && s.answered >= first.answered + 300 ? s : undefined;
    }, 30_000, 'traffic to get 300 more answers');
    const ok = later.ok - first.ok;
    const answered = later.answered - first.answered;
    const statuses = Object.fromEntries(Object.entries(later.byStatus).map(([k, n]) => [k, n - (first.byStatus[k] ?? 0)]).filter(([, n]) => n !== 0));
    const logs = () => ['host-1-agent', 'host-1-frontend', 'host-1-traffic'].map((name) => `--- ${name}\n${readFileSync(`${tmpDir}/${name}.log`, 'utf8').split('\n').slice(-15).join('\n')}`).join('\n');
    assert.ok(ok / answered >= 0.9, `${ok} of ${answered} answered 200: ${JSON.stringify(statuses)}\n${logs()}`);
    assert.deepEqual(Object.keys(statuses).filter((k) => k !== '200' && k !== '500'), [], `only 200s and db's 500s: ${JSON.stringify(statuses)}\n${logs()}`);
    await assertSecureMesh(out, serverUrl, tmpDir, prefix);
  } finally {
    for (const signal of signals) demo.kill(signal);
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000).unref())]);
    if (code === 'hung') {
      process.kill(-demo.pid!, 'SIGKILL');
      assert.fail(`the demo did not exit within 30 s of ${signals.join(', ')}:\n${out}`);
    }
    assert.equal(code, 0, `exit status after ${signals.join(', ')}:\n${out}`);
  }
  assert.match(out, /removed \d+ processes/);
  assert.deepEqual(inGroup(demo.pid!), [], "nothing is left in the demo's process group");
  assert.deepEqual(markedProcesses(prefix), [], 'no process of the run is left');
  assert.equal(existsSync(tmpDir), false, `${tmpDir} is removed`);
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.ok(!namespaces.includes(`${prefix}-`), `no namespace of ${prefix} is left:\n${namespaces}`);
  const links = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' });
  assert.ok(!links.includes(`${prefix}-`), `no link of ${prefix} is left:\n${links}`);
  assert.ok(!existsSync(`/etc/netns/${prefix}-h0`));
}

test('on network namespaces: up, traffic end to end, and SIGINT removes everything (exit 0)', { timeout: 180_000 }, async () => {
  assert.equal(process.getuid?.(), 0, 'the e2e tests run as root (network namespaces)');
  await runDemo('netns', ['SIGINT']);
});

test('on loopback addresses: up, traffic end to end, and SIGTERM twice (the second during cleanup) still removes everything (exit 0)', { timeout: 180_000 }, async () => {
  await runDemo('loopback', ['SIGTERM', 'SIGTERM']);
});

test('without root the default is loopback addresses, and it runs and cleans up all the same', { timeout: 180_000 }, async () => {
  await runDemo('auto', ['SIGINT'], true);
});

test('--hosts-mode netns without root: exit 1 naming the problem and the fix, nothing left behind', async () => {
  const demo = startDemo(['--hosts-mode', 'netns'], true);
  let out = '';
  demo.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // 'close', not 'exit': the output is all read only once the pipes have closed.
  const code = await new Promise<number | null>((resolve) => demo.once('close', resolve));
  assert.equal(code, 1, out);
  assert.match(out, /error: cannot make namespace hosts: network namespaces need root \(this runs as uid 65534\) \(run meshctl demo as root, or pass --hosts-mode loopback\)/);
  // Only this run's temp dirs (meshctl-demo-md<its pid in base 36><2 chars>-): another file's demo
  // (demo-dashboard, run alongside this one) makes and removes its own in /tmp at any moment.
  const mine = new RegExp(`^meshctl-demo-md${demo.pid!.toString(36)}[0-9a-z]{2}-`);
  assert.deepEqual(readdirSync(tmpdir()).filter((e) => mine.test(e)), []);
});
