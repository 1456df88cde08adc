// `meshctl dashboard` in a real terminal: the built CLI runs inside tmux (a
// private server, -L, killed by its own socket), reads a real `meshctl
// server` with a read-only token, and the test reads the screen with
// capture-pane, polling until what it expects is drawn.
//
// The figures come from a stand-in for GET /v1/mesh/stats and
// /v1/mesh/stats/errors (fixed answers, so the screen can be checked to the
// character, edge cases such as 99.996% among them), which refuses any token
// but the read-only one as the server does, and forwards every other request
// (routes, intentions) to the real server. The server's own answer from real
// traffic is on screen in test/e2e/demo-dashboard.test.ts.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { STATS } from '../fixtures/dashboard-stats.ts';
import { cliFor } from '../helpers/cli.ts';
import { MESHCTL, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';

const SOCKET = `meshctl-dash-${process.pid}-${Date.now()}`;
const tmux = (...args: string[]) => {
  const r = spawnSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const capture = (session: string) => tmux('capture-pane', '-p', '-t', session);

const ERRORS = [
  { time: '2026-11-27T05:29:58.000Z', node: 'host-1', source: 'frontend', destination: 'api', status: 503, cause: 'no_healthy_endpoints', hop: 'outbound', method: 'GET', path: '/x' },
  { time: '2026-11-27T05:29:57.000Z', node: 'host-2', source: 'frontend', destination: 'api', status: 500, cause: 'upstream_5xx', hop: 'inbound', endpoint: 'api-1', method: 'POST', path: '/orders' },
];

/** The stats contract for the two paths, the real server for everything else. */
function statsStandIn(upstream: () => ServerProcess, readToken: string): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (url.pathname.startsWith('/v1/mesh/stats')) {
      if (req.headers['x-consul-token'] !== readToken) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('ACL not found');
        return;
      }
      const service = url.searchParams.get('service');
      const body = url.pathname === '/v1/mesh/stats' ? { ...STATS, window: url.searchParams.get('window') } : { errors: ERRORS.filter((e) => !service || e.destination === service || e.source === service) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    const forward = request(`${upstream().url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
}

const listen = (server: Server, port = 0, host = '127.0.0.1') => new Promise<number>((resolve) => server.listen(port, host, () => resolve((server.address() as AddressInfo).port)));
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Starts the real CLI in a new tmux session; the pane prints EXIT=<status> when it ends and stays open. */
function startDashboard(session: string, cols: number, rows: number, args: string[]): void {
  const env = `env -i PATH=${process.env.PATH} LANG=C.UTF-8 TERM=xterm-256color MESHCTL_CONFIG_DIR=/nonexistent`;
  const command = `${env} ${MESHCTL} dashboard ${args.join(' ')}; echo EXIT=$?; exec sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), command);
}

describe('meshctl dashboard in a terminal', () => {
  let server: ServerProcess;
  let standIn: Server;
  let standInPort: number;
  let readToken: string;
  const cli = cliFor(() => server);

  before(async () => {
    server = await startServer();
    readToken = (JSON.parse(cli.ok(['token', 'create', '--policy', 'read', '--description', 'dashboard', '--json'])) as { SecretID: string }).SecretID;
    cli.ok(['intention', 'allow', 'frontend', 'api']);
    cli.ok(['intention', 'deny', '*', 'api']);
    cli.ok(['route', 'add', 'api', '--name', 'moved', '--path-exact', '/old', '--redirect', '/new@301']);
    standIn = statsStandIn(() => server, readToken);
    standInPort = await listen(standIn);
  });

  after(async () => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
    if (standIn) await close(standIn);
    if (server) {
      await server.stop();
      removeDir(server.dataDir);
    }
  });

  test('shows the services and their figures, keeps readable at 80x24, shows help, and q exits 0', async (t) => {
    startDashboard('main', 120, 40, ['--server', `127.0.0.1:${standInPort}`, '--token', readToken, '--refresh', '500ms']);
    const wide = await waitFor(() => {
      const screen = capture('main');
      return screen.includes('inventory-reconciliation-worker-east') && screen.includes('1234') && screen.includes('allow frontend → api') && screen.includes('no_healthy_endpoints') && screen;
    }, 20_000, 'the dashboard to show the services, the intentions and the errors');
    const row = (screen: string, name: string) => screen.split('\n').filter((l) => new RegExp(`^>? *${name} `).test(l));
    assert.match(row(wide, 'api')[0] ?? '', /api\s+2\/2\s+20\.0\s+99\.00%\s+1\.2ms\s+3\.4ms\s+7\.9ms/);
    assert.match(row(wide, 'frontend')[0] ?? '', /frontend\s+1\/2\s+3\.50\s+90\.00%/);
    assert.match(wide, /redirect 301 \/new/, 'the route of api');
    assert.match(wide, /deny \* → api/, 'the wildcard intention');

    // blessed draws one frame of the old layout clipped to the new size before
    // it tells the dashboard of the resize, so the wait is for the new layout's
    // frame: the table header on the second line and the status on the last.
    tmux('resize-window', '-t', 'main', '-x', '80', '-y', '24');
    const small = await waitFor(() => {
      const screen = capture('main');
      const lines = screen.split('\n');
      return lines.length >= 24 && /^\s*SERVICE\s+HEALTHY\s+RPS\s+SUCCESS\s+P50\s+P95\s+P99\s*$/.test(lines[1] ?? '') && /\? help {2}q quit/.test(lines[23] ?? '') && screen;
    }, 10_000, 'the table and the status line to be redrawn for 80x24');
    const lines = small.split('\n').slice(0, 24);
    assert.equal(lines.filter((l) => /^\s*SERVICE\s+HEALTHY/.test(l)).length, 1, 'one header row');
    // Each service on one line of its own, with its RPS, success and p99 figures readable.
    assert.match(row(small, 'api')[0] ?? '', /^> api\s+2\/2\s+20\.0\s+99\.00%\s+1\.2ms\s+3\.4ms\s+7\.9ms\s*$/);
    assert.match(row(small, 'frontend')[0] ?? '', /^\s+frontend\s+1\/2\s+3\.50\s+90\.00%\s+2\.0ms\s+8\.0ms\s+41\.5ms\s*$/);
    assert.match(row(small, 'inventory-reconciliatio…')[0] ?? '', /inventory-reconciliatio…\s+3\/3\s+1\.2k\s+99\.99%\s+0\.40ms\s+0\.90ms\s+120ms\s*$/);
    assert.match(row(small, 'idle')[0] ?? '', /idle\s+0\/1\s+0\s+-\s+-\s+-\s+-\s*$/);
    assert.match(lines[0] ?? '', /meshctl dashboard · window 10s/);
    assert.ok(lines.some((l) => /^api · 2\/2 healthy · 20\.0 rps/.test(l)), 'the detail pane of the selected service');
    assert.ok(lines.some((l) => /^RPS\s+[▁▂▃▄▅▆▇█ ]+\s+20\.0\/s$/.test(l)), 'the RPS sparkline');

    // j selects the next service; its detail and errors follow.
    tmux('send-keys', '-t', 'main', 'j');
    await waitFor(() => /^frontend · 1\/2 healthy/m.test(capture('main')), 5000, 'frontend to be selected');

    tmux('send-keys', '-t', 'main', 't');
    const topology = await waitFor(() => {
      const screen = capture('main');
      return screen.includes('topology: who calls whom') && screen;
    }, 5000, 'the topology view');
    assert.match(topology, /frontend → api\s+20\.0\s+99\.00%\s+9\.0ms/);
    assert.match(topology, /\(outside the mesh\) → frontend\s+3\.50\s+90\.00%/);

    tmux('send-keys', '-t', 'main', '?');
    await waitFor(() => capture('main').includes('select the service below'), 5000, 'the help overlay');
    tmux('send-keys', '-t', 'main', 'Escape');
    await waitFor(() => !capture('main').includes('select the service below'), 5000, 'the help overlay to close');

    const quitAt = Date.now();
    tmux('send-keys', '-t', 'main', 'q');
    const ended = await waitFor(() => {
      const screen = capture('main');
      return /EXIT=\d+/.test(screen) && screen;
    }, 10_000, 'the dashboard to exit');
    assert.match(ended, /EXIT=0/);
    const quitMs = Date.now() - quitAt;
    t.diagnostic(`q to EXIT in the pane: ${quitMs}ms`);
    assert.ok(quitMs < 3000, `q took ${quitMs}ms to exit`);
    assert.doesNotMatch(ended, /SERVICE\s+HEALTHY/, 'the terminal is restored: the dashboard left the alternate screen');
  });

  test('bad flags and a missing terminal are usage errors that name the fix', () => {
    const badRefresh = cli.run(['dashboard', '--refresh', '10']);
    assert.equal(badRefresh.code, 2);
    assert.match(badRefresh.stderr, /invalid --refresh "10": expected a duration from 200ms to 1h \(give e\.g\. --refresh 2s\)/);
    const badWindow = cli.run(['dashboard', '--window', '5m']);
    assert.equal(badWindow.code, 2);
    assert.match(badWindow.stderr, /invalid --window "5m" \(give one of 10s, 1m, 10m\)/);
    const noTty = cli.run(['dashboard']);
    assert.equal(noTty.code, 2);
    assert.match(noTty.stderr, /needs a terminal.*ssh -t HOST meshctl dashboard/);
  });

  test('an unreachable server and a refused token show the problem and the fix, and it keeps retrying', async () => {
    // A port nothing listens on (yet): taken and released, on a loopback address of this test's own
    // (all of 127/8 is local), so that no other test's listen(0) on 127.0.0.1 can take it meanwhile.
    const host = `127.${100 + randomInt(100)}.${randomInt(256)}.${1 + randomInt(254)}`;
    const probe = createServer();
    const port = await listen(probe, 0, host);
    await close(probe);
    startDashboard('down', 80, 24, ['--server', `${host}:${port}`, '--token', readToken, '--refresh', '300ms']);
    const down = await waitFor(() => {
      const screen = capture('down');
      return /cannot reach the meshctl server/.test(screen) && screen;
    }, 15_000, 'the unreachable status');
    assert.match(down.replace(/\s+/g, ' '), /fix: check that `meshctl server` runs there, or pass --server ADDR/);
    // The server comes up at that address: the dashboard picks it up by itself.
    const late = statsStandIn(() => server, readToken);
    await listen(late, port, host);
    try {
      await waitFor(() => /^> api\s+2\/2\s+20\.0/m.test(capture('down')), 15_000, 'the data once the server is up');
      tmux('send-keys', '-t', 'down', 'q');
      assert.match(await waitFor(() => /EXIT=\d+/.exec(capture('down'))?.[0], 10_000, 'exit'), /EXIT=0/);
    } finally {
      await close(late);
    }

    startDashboard('refused', 80, 24, ['--server', `127.0.0.1:${standInPort}`, '--token', 'not-a-token']);
    const refused = await waitFor(() => {
      const screen = capture('refused').replace(/\s+/g, ' ');
      return /the server refused the token: ACL not found/.test(screen) && screen;
    }, 15_000, 'the refused-token status');
    assert.match(refused, /fix: pass a token with the needed policy/);
    tmux('send-keys', '-t', 'refused', 'C-c');
    assert.match(await waitFor(() => /EXIT=\d+/.exec(capture('refused'))?.[0], 10_000, 'exit'), /EXIT=0/);
  });
});
