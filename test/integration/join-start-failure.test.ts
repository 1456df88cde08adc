// An agent that cannot start says why, fast, and nothing hangs: `meshctl
// join` against a real server on loopback, with a port held by this test or
// an access log path the kernel will not make. Foreground or supervised, join
// exits with the agent's own error within seconds (not after its 20 s wait
// for registration), and a fresh join leaves nothing installed. Flags that
// cannot work are refused before anything starts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, api, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { listenLoopback } from '../helpers/listen.ts';

let server: ServerProcess;
let root: string;
let holder: Server;
let heldPort: number;
let token: string;

before(async () => {
  server = await startServer();
  root = mkdtempSync(join(tmpdir(), 'meshctl-join-fail-'));
  // A port something else already listens on, as another agent's metrics would.
  holder = createServer();
  heldPort = await listenLoopback(holder);
  const res = await api(server, 'PUT', '/v1/acl/token', { NodeIdentities: [{ NodeName: 'failing' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  token = ((await res.json()) as { SecretID: string }).SecretID;
});
after(async () => {
  await meshctl(['leave', '--force', ...dirs('joined').slice(0, 4)], 30_000);
  holder?.close();
  await server?.stop();
  removeDir(server?.dataDir ?? '');
  rmSync(root, { recursive: true, force: true });
});

const dirs = (name: string, overrides: Record<string, string> = {}) =>
  Object.entries({ '--data-dir': join(root, name, 'data'), '--config-dir': join(root, name, 'conf'), '--admin-addr': '127.0.0.1:0', '--inbound-addr': '127.0.0.1:0', '--metrics-port': '0', ...overrides }).flat();

/** Runs meshctl; a run still going after limitMs is killed and reported as such (the bug was a join that never exits). */
function meshctl(args: string[], limitMs: number): Promise<{ code: number | null; stdout: string; stderr: string; tookMs: number; killed: boolean }> {
  const started = Date.now();
  const child = spawn(MESHCTL, args, { env: { PATH: process.env.PATH ?? '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, limitMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, tookMs: Date.now() - started, killed });
    });
  });
}

const joinArgs = (name: string, extra: string[], overrides: Record<string, string> = {}) => ['join', `http://${server.address}`, '--token', token, '--node-name', 'failing', '--service', 'web=8080', ...extra, ...dirs(name, overrides)];

test('join --foreground whose agent cannot bind its metrics port exits at once with the cause, leaving nothing', async () => {
  const r = await meshctl(joinArgs('fg-port', ['--foreground'], { '--metrics-port': String(heldPort) }), 15_000);
  assert.equal(r.killed, false, `join --foreground was still running after 15 s: ${r.stderr}`);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`the agent cannot serve metrics on port ${heldPort} .*EADDRINUSE \\(another agent may use it: join with --metrics-port PORT\\)`));
  assert.ok(r.tookMs < 8000, `exited after ${r.tookMs} ms`);
  assert.equal(existsSync(join(root, 'fg-port')), false, 'nothing half-installed');
});

test('join --foreground with an access log it cannot create is refused before anything is installed', async () => {
  const path = `/proc/meshctl-no-such-${process.pid}/access.log`;
  const r = await meshctl(joinArgs('fg-alog', ['--foreground', '--access-log', path]), 15_000);
  assert.equal(r.killed, false, `join was still running after 15 s: ${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot write the access log ${path.replace(/[.]/g, '\\.')}: ENOENT \\(.*--access-log PATH.*--access-log off\\)`));
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  assert.equal(existsSync(join(root, 'fg-alog')), false, 'nothing half-installed');
});

test('address flags the agent could not use are usage errors before anything starts', async () => {
  const cases: Array<[string, Record<string, string>, string[], RegExp]> = [
    ['--admin-addr with no port', { '--admin-addr': 'nonsense' }, [], /--admin-addr "nonsense" is not HOST:PORT: there is no port \(give an IP address and a port 0\.\.65535, e\.g\. --admin-addr 127\.0\.0\.1:15000/],
    ['--inbound-addr past the last port', { '--inbound-addr': '127.0.0.1:70000' }, [], /--inbound-addr "127\.0\.0\.1:70000" is not HOST:PORT: the port 70000 is outside 0\.\.65535 \(/],
    ['--advertise-addr that is not an IP', {}, ['--advertise-addr', 'not-an-ip'], /--advertise-addr "not-an-ip" is not an IP address/],
    ['--metrics-port that is not a port', { '--metrics-port': '15090x' }, [], /--metrics-port "15090x" is not a port/],
  ];
  for (const [what, overrides, extra, message] of cases) {
    for (const mode of [[], ['--foreground']]) {
      const r = await meshctl(joinArgs('usage', [...extra, ...mode], overrides), 15_000);
      assert.equal(r.code, 2, `${what} ${mode.join('')}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
      assert.ok(r.tookMs < 10_000, `${what}: refused in ${r.tookMs} ms`);
      assert.equal(existsSync(join(root, 'usage')), false, `${what}: nothing half-installed`);
    }
  }
});

test('supervised join whose agent cannot bind its metrics port says why as soon as the agent exits, and leaves nothing', async () => {
  const r = await meshctl(joinArgs('sup-port', [], { '--metrics-port': String(heldPort) }), 25_000);
  assert.equal(r.killed, false, `join was still running after 25 s: ${r.stderr}`);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`the agent could not start: the agent cannot serve metrics on port ${heldPort} .*EADDRINUSE \\(another agent may use it: join with --metrics-port PORT\\)`));
  assert.match(r.stderr, /\(nothing was left installed; fix that and run meshctl join again\)/);
  assert.doesNotMatch(r.stderr, new RegExp(root), 'no pointer to a file the rollback removed');
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  assert.ok(r.tookMs < 15_000, `said why after ${r.tookMs} ms (the registration wait is 20 s)`);
  assert.equal(existsSync(join(root, 'sup-port')), false, 'nothing half-installed');
});

test('supervised join with an access log it cannot create is refused before anything is installed', async () => {
  const path = `/proc/meshctl-no-such-${process.pid}/access.log`;
  const r = await meshctl(joinArgs('sup-alog', ['--access-log', path]), 25_000);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: cannot write the access log ${path.replace(/[.]/g, '\\.')}: ENOENT \\(.*--access-log off\\)`));
  assert.ok(r.tookMs < 10_000, `refused in ${r.tookMs} ms`);
  assert.equal(existsSync(join(root, 'sup-alog')), false, 'nothing half-installed');
});

test('on a joined host: join refuses a bad access log and keeps the running config; an agent restarted onto one exits with why', async () => {
  const joined = await meshctl(joinArgs('joined', []), 25_000);
  assert.equal(joined.code, 0, joined.stderr);
  const configFile = join(root, 'joined', 'conf', 'agent.json');
  const before = readFileSync(configFile, 'utf8');
  const path = `/proc/meshctl-no-such-${process.pid}/access.log`;
  const again = await meshctl(joinArgs('joined', ['--access-log', path]), 25_000);
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr, /cannot write the access log \/proc\/.*: ENOENT/);
  assert.doesNotMatch(again.stdout, /updated the running agent/);
  assert.equal(readFileSync(configFile, 'utf8'), before, 'the running config is untouched');

  // The path goes bad under a running agent (here: its config names one), and the agent restarts:
  // it must exit with the reason, for the supervisor's backoff, not live on with no listener.
  const config = JSON.parse(before) as Record<string, unknown>;
  writeFileSync(configFile, JSON.stringify({ ...config, accessLog: { path, maxBytes: 1024 * 1024, keep: 1 } }), { mode: 0o600 });
  const dataDir = join(root, 'joined', 'data');
  const log = join(dataDir, 'logs', 'agent.log');
  const offset = readFileSync(log).length;
  process.kill(Number(readFileSync(join(dataDir, 'agent.pid'), 'utf8')), 'SIGTERM');
  const said = await waitFor(() => {
    const text = readFileSync(log, 'utf8').slice(offset);
    const exits = text.match(/\[supervisor\] agent exited \(code 1\)/g) ?? [];
    return exits.length >= 2 && text;
  }, 10_000, 'the restarted agent to exit (twice: the supervisor keeps restarting it on its backoff)');
  assert.match(said, new RegExp(`error: cannot write the access log ${path.replace(/[.]/g, '\\.')}: ENOENT \\(.*--access-log off\\)`));
  writeFileSync(configFile, before, { mode: 0o600 });
});

test('a --data-dir or --config-dir the kernel will not make is refused at once, not hung on', async () => {
  const bad = `/proc/meshctl-no-such-${process.pid}`;
  for (const flag of ['--config-dir', '--data-dir']) {
    const r = await meshctl(joinArgs('bad-dir', [], { [flag]: `${bad}/meshctl` }), 15_000);
    assert.equal(r.killed, false, `${flag}: join was still running after 15 s`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot write the agent's config or state: ENOENT.*\(run as root, or choose --config-dir and --data-dir you can write\)/, flag);
    assert.equal(existsSync(join(root, 'bad-dir')), false, `${flag}: nothing half-installed`);
  }
});
