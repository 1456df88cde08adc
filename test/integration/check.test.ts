// `meshctl check` against a real server and a real joined agent: the run
// passes when all is well, and each failure shows as a × line with its hint
// and exit 1.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cliFor } from '../helpers/cli.ts';
import { MESHCTL, api, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { freePort, listenLoopback } from '../helpers/listen.ts';

let server: ServerProcess;
let root: string;
let app: Server;
let appPort: number;

before(async () => {
  server = await startServer();
  root = mkdtempSync(join(tmpdir(), 'meshctl-check-'));
  app = createServer((_, res) => res.end('ok'));
  appPort = await listenLoopback(app);
});
after(async () => {
  spawnSync(MESHCTL, ['leave', '--force', '--data-dir', join(root, 'data'), '--config-dir', join(root, 'conf')], { encoding: 'utf8', timeout: 30_000 });
  app?.close();
  await server?.stop();
  removeDir(server?.dataDir ?? '');
  rmSync(root, { recursive: true, force: true });
});


/** Before a join, the agent's ports as flags: free ones, since other tests on this machine may hold the defaults. */
async function portFlags(): Promise<string[]> {
  const [admin, inbound, outbound, dns, metrics] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  return ['--admin-addr', `127.0.0.1:${admin}`, '--inbound-addr', `127.0.0.1:${inbound}`, '--outbound-port', String(outbound), '--dns-port', String(dns), '--metrics-port', String(metrics)];
}

type Report = { checks: Array<{ group: string; name: string; status: string; detail: string; hint: string | null }>; ok: boolean };
const marks = (stdout: string) => stdout.split('\n').filter((l) => /^[√×‼] /.test(l));

test('before a join, a live server and a valid token pass every check', async () => {
  const cli = cliFor(() => server);
  const r = cli.run(['check', '--pre', ...(await portFlags())]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(
    marks(r.stdout).map((l) => l.replace(/ \(.*$/, '')),
    ['√ server reachable', '√ server API answers', '√ token valid', '√ clock skew', '√ Node.js version', '√ iptables backend usable', '√ agent ports free'],
  );
  assert.match(r.stdout, /^meshctl server\n-+\n/);
  assert.match(r.stdout, /√ token valid \(accessor [0-9a-f]{8}…, policy management\)/);
  assert.match(r.stdout, /Status check results are √\n$/);
  assert.equal(r.stderr, '');

  const json = cli.run(['check', '--pre', '--json', ...(await portFlags())]);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as Report;
  assert.equal(report.ok, true);
  assert.ok(report.checks.every((c) => c.status === 'pass' && c.hint === null && typeof c.detail === 'string'), json.stdout);
  assert.deepEqual([...new Set(report.checks.map((c) => c.group))], ['server', 'host']);
});

test('a token the server does not know: × token valid with a hint, exit 1', async () => {
  const r = cliFor(() => server).run(['check', '--pre', ...(await portFlags())], 'not-a-real-token');
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /^× token valid\n {4}the server does not know this token \(ACL not found\)\n {4}hint: create one on the server \(meshctl token create --policy read\) and pass it with --token or MESHCTL_TOKEN$/m);
  assert.match(r.stdout, /^√ server reachable/m, 'the rest still runs');
  assert.match(r.stdout, /Status check results are ×\n$/);
  assert.match(r.stderr, /^error: 1 check failed \(each × line above says what to fix\)\n$/);
});

test('a server that is down: × server reachable, exit 1, and the host checks still run', async () => {
  const down = `127.0.0.1:${await freePort()}`;
  const r = cliFor(() => ({ address: down, token: server.token })).run(['check', '--pre', '--json', ...(await portFlags())]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.ok, false);
  const reachable = report.checks.find((c) => c.name === 'server reachable')!;
  assert.equal(reachable.status, 'fail');
  assert.equal(reachable.detail, `no answer from http://${down} (from MESHCTL_SERVER): ECONNREFUSED`);
  assert.match(reachable.hint!, /meshctl server.*--server ADDR or set MESHCTL_SERVER/);
  assert.equal(report.checks.filter((c) => c.group === 'server').length, 1, 'nothing else is asked of a server that is not there');
  assert.ok(report.checks.some((c) => c.name === 'Node.js version' && c.status === 'pass'));
});

test('a port the agent needs that something holds: × agent ports free naming it', async () => {
  const holder = createTcpServer();
  const held = await listenLoopback(holder);
  try {
    const flags = await portFlags();
    flags[1] = `127.0.0.1:${held}`;
    const r = cliFor(() => server).run(['check', '--pre', ...flags]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`^× agent ports free\\n {4}127\\.0\\.0\\.1:${held}/tcp \\(admin API\\): in use\\n {4}hint: stop what listens there`, 'm'));
  } finally {
    holder.close();
  }
});

test('a port flag that is not a port: exit 2 naming the flag and the value, and check takes what join takes', async () => {
  const cli = cliFor(() => server);
  const cases: Array<[string, string, RegExp]> = [
    ['--metrics-port', 'abc', /^error: --metrics-port "abc" is not a port \(give --metrics-port 0\.\.65535 \(0 picks a free port\)\)\n$/],
    ['--metrics-port', '70000', /^error: --metrics-port "70000" is not a port \(give --metrics-port 0\.\.65535/],
    ['--admin-addr', 'nonsense', /^error: --admin-addr "nonsense" is not HOST:PORT: there is no port \(give an IP address and a port 0\.\.65535, e\.g\. --admin-addr 127\.0\.0\.1:15000/],
    ['--dns-port', '0', /^error: --dns-port "0" is not a port \(give --dns-port 1\.\.65535\)\n$/],
  ];
  for (const [flag, value, stderr] of cases) {
    const flags = await portFlags();
    flags[flags.indexOf(flag) + 1] = value;
    const r = cli.run(['check', '--pre', ...flags]);
    assert.equal(r.code, 2, `${flag} ${value}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, stderr, `${flag} ${value}`);
    assert.equal(r.stdout, '', 'nothing is checked with a bad flag');
  }
  // join --metrics-port 0 picks a free port: check takes it too, with nothing to probe.
  const flags = await portFlags();
  flags[flags.indexOf('--metrics-port') + 1] = '0';
  const zero = cli.run(['check', '--pre', ...flags]);
  assert.equal(zero.code, 0, zero.stdout + zero.stderr);
});

test('after a join, the agent, its certificate and its registration pass, found through the agent config alone', async () => {
  const res = await api(server, 'PUT', '/v1/acl/token', { NodeIdentities: [{ NodeName: 'node-c' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  const token = ((await res.json()) as { SecretID: string }).SecretID;
  const dirs = ['--data-dir', join(root, 'data'), '--config-dir', join(root, 'conf')];
  const joined = spawnSync(MESHCTL, ['join', server.httpsUrl, '--ca-hash', server.caHash, '--token', token, '--node-name', 'node-c', '--service', `web=${appPort},check=http://127.0.0.1:${appPort}/,interval=200ms,timeout=2s`, '--admin-addr', '127.0.0.1:0', '--inbound-addr', '127.0.0.1:0', '--metrics-port', '0', ...dirs], { encoding: 'utf8', timeout: 40_000, env: { PATH: process.env.PATH ?? '' } });
  assert.equal(joined.status, 0, joined.stderr);
  // No MESHCTL_SERVER or token: the server, its TLS roots and the token come from the joined agent's config.
  const check = () => {
    const r = spawnSync(MESHCTL, ['check', '--json', '--config-dir', join(root, 'conf')], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' } });
    return { code: r.status, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
  };
  // The first health check and the first leaf take a moment after join returns.
  const ran = await waitFor(() => {
    const r = check();
    return r.code === 0 && r.report.checks.every((c) => c.status === 'pass') ? r : undefined;
  }, 20_000, 'every check to pass after the join').catch((error: Error) => assert.fail(`${error.message}\n${JSON.stringify(check().report, null, 2)}`));
  const byName = new Map(ran.report.checks.map((c) => [c.name, c]));
  assert.deepEqual(
    ran.report.checks.map((c) => `${c.group}: ${c.name}`),
    ['server: server reachable', 'server: server TLS verified', 'server: server API answers', 'server: token valid', 'server: clock skew', 'host: Node.js version', 'host: iptables backend usable', 'agent: agent running', 'agent: proxy ready', 'agent: agent connected to the server', 'agent: certificate valid: web', 'agent: service registered and passing: web'],
  );
  assert.match(byName.get('server reachable')!.detail, /^https:\/\/127\.0\.0\.1:\d+, the joined agent's server$/);
  assert.match(byName.get('server TLS verified')!.detail, /verified against 1 mesh CA root/);
  assert.match(byName.get('token valid')!.detail, /policy agent/);
  assert.match(byName.get('agent running')!.detail, /^node node-c, pid \d+/);
  assert.match(byName.get('certificate valid: web')!.detail, /expires in .*% of its .* life left; chains to the current roots/);
  assert.match(byName.get('service registered and passing: web')!.detail, /^2 checks passing$/, 'the node\'s check and the service\'s');

  // The app's health check goes critical: the registration check fails with the check's output.
  app.closeAllConnections();
  await new Promise((resolve) => app.close(resolve));
  const failing = await waitFor(() => {
    const r = check();
    return r.code === 1 ? r : undefined;
  }, 20_000, 'the registration check to fail');
  const registration = failing.report.checks.find((c) => c.name === 'service registered and passing: web')!;
  assert.equal(registration.status, 'fail');
  assert.match(registration.detail, /^service:web critical: HTTP GET http:\/\/127\.0\.0\.1:\d+\/: /);
  assert.match(failing.stderr, /1 check failed/);

  // MESHCTL_SERVER names the server another way on this joined host: its agent's CA is not used for it,
  // and the hint says to unset the override, not to run the command on a joined host (this is one).
  const elsewhere = server.httpsUrl.replace('127.0.0.1', 'localhost');
  const overridden = spawnSync(MESHCTL, ['check', '--json', '--config-dir', join(root, 'conf')], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', MESHCTL_SERVER: elsewhere } });
  assert.equal(overridden.status, 1, overridden.stderr);
  const tls = (JSON.parse(overridden.stdout) as Report).checks.find((c) => c.name === 'server TLS verified')!;
  assert.equal(tls.status, 'fail', JSON.stringify(tls));
  assert.equal(tls.hint, `set MESHCTL_CA_FILE to the mesh CA root (meshctl ca show --json on the server), or unset MESHCTL_SERVER: this host is joined to ${server.httpsUrl}, whose CA its agent holds, and MESHCTL_SERVER points at ${elsewhere} instead`);
});
