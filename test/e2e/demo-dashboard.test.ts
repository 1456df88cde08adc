// The README's first command, as a newcomer sees it: the built `meshctl
// demo` in a real terminal (tmux on a private -L socket, killed by that
// socket only). Its hosts come up, its traffic flows, and the dashboard it
// opens shows frontend, api and db with the rate the traffic generator sends;
// at 80x24 every row stays on one readable line; it reads with the read-only
// token the demo printed (which cannot write: revoking it is what the
// dashboard then reports); q quits with status 0 and the demo removes what
// it made.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { cliFor } from '../helpers/cli.ts';
import { MESHCTL, waitFor } from '../helpers/server.ts';

const SOCKET = `meshctl-demo-dash-${process.pid}-${Date.now()}`;
const RATE = 20;
const tmux = (...args: string[]) => {
  const r = spawnSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const capture = () => tmux('capture-pane', '-p', '-t', 'demo');

after(() => {
  // Killing the tmux server hangs up the demo, which then removes what it made (it quits on SIGHUP as on q).
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
});

interface Row {
  service: string;
  healthy: string;
  rps: number;
  success: string;
  p99: string;
}

/** The services table's rows: `> api  2/2  18.1  99.40%  3.0ms  7.1ms  11.9ms …`. */
function rows(screen: string): Map<string, Row> {
  const found = new Map<string, Row>();
  for (const line of screen.split('\n')) {
    const m = /^[> ] (\S+)\s+(\d+\/\d+)\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s+(\S+)/.exec(line);
    if (!m) continue;
    found.set(m[1]!, { service: m[1]!, healthy: m[2]!, rps: Number(m[3]), success: m[4]!, p99: m[5]! });
  }
  return found;
}

test('meshctl demo opens the dashboard on live traffic, read with the read-only token it prints; it stays readable at 80x24; q exits 0 and removes everything', async (t) => {
  const env = `env -i PATH=${process.env.PATH} LANG=C.UTF-8 TERM=xterm-256color NO_COLOR=1`;
  tmux('new-session', '-d', '-s', 'demo', '-x', '120', '-y', '40', `${env} ${MESHCTL} demo --hosts-mode netns --rate ${RATE}; echo EXIT=$?; exec sleep 600`);

  const trafficSeen = await waitFor(() => {
    const table = rows(capture());
    return ['frontend', 'api', 'db'].every((s) => (table.get(s)?.rps ?? 0) > 0) && Date.now();
  }, 120_000, `the dashboard to show traffic on frontend, api and db:\n${(() => { try { return capture(); } catch { return ''; } })()}`);

  // What the demo printed before the dashboard took the screen: the normal screen under the dashboard's alternate one.
  const printed = tmux('capture-pane', '-p', '-a', '-J', '-t', 'demo');
  const [, serverUrl, readToken] = /try\s+MESHCTL_SERVER=(\S+) MESHCTL_TOKEN=(\S+) meshctl services/.exec(printed) ?? [];
  const managementFile = /management in (\S+) \(mode 0600\)/.exec(printed)?.[1];
  assert.ok(serverUrl && readToken && managementFile, `the demo printed the server, the read-only token and the management token's file:\n${printed}`);
  const cli = cliFor(() => ({ address: serverUrl, token: readFileSync(managementFile, 'utf8').trim() }));
  const refused = cli.run(['intention', 'deny', 'traffic', 'db'], readToken);
  assert.equal(refused.code, 1, `the printed token cannot write: ${refused.stdout}${refused.stderr}`);
  assert.match(refused.stderr, /the server refused the token: Permission denied: .* lacks permission/);
  const tokens = JSON.parse(cli.ok(['token', 'list', '--json'])) as Array<{ AccessorID: string; Description: string; MeshPolicy: string }>;
  const dashboardToken = tokens.find((t) => t.Description === 'demo-dashboard');
  assert.equal(dashboardToken?.MeshPolicy, 'read', JSON.stringify(tokens));
  // Five seconds of traffic on: each hop carries what the generator sends (the 10 s window still filling is why it is polled).
  const wide = await waitFor(() => {
    const screen = capture();
    const table = rows(screen);
    const settled = Date.now() - trafficSeen >= 5000 && ['frontend', 'api', 'db'].every((s) => Math.abs((table.get(s)?.rps ?? 0) - RATE) <= RATE * 0.2);
    return settled && screen;
  }, 40_000, `every service to show about ${RATE} rps:\n${capture()}`);
  const table = rows(wide);
  for (const service of ['frontend', 'api', 'db']) {
    const row = table.get(service)!;
    t.diagnostic(`${service}: ${row.healthy} healthy, ${row.rps} rps, ${row.success} ok, p99 ${row.p99}`);
    assert.match(row.success, /^\d+\.\d\d%$/, `${service}'s success rate is shown`);
    assert.ok(Number(row.success.replace('%', '')) >= 90, `${service}: db fails 2% of queries, nothing else fails: ${row.success}`);
    assert.match(row.p99, /^\d+(\.\d+)?ms$/);
  }
  assert.equal(table.get('api')?.healthy, '2/2', 'api runs as v1 and v2');
  assert.ok(!table.has('meshctl-agent'), "the agents' own catalog entry is no service of the mesh");
  assert.match(wide, /split: everything → api:v1=80 api:v2=20/, "api's route in the detail pane");

  tmux('resize-window', '-t', 'demo', '-x', '80', '-y', '24');
  const small = await waitFor(() => {
    const screen = capture();
    const lines = screen.split('\n');
    return /^\s*SERVICE\s+HEALTHY\s+RPS\s+SUCCESS\s+P50\s+P95\s+P99\s*$/.test(lines[1] ?? '') && /\? help {2}q quit/.test(lines[23] ?? '') && screen;
  }, 10_000, `the table and the status line to be redrawn for 80x24:\n${capture()}`);
  const lines = small.split('\n').slice(0, 24);
  assert.equal(lines.filter((l) => /^\s*SERVICE\s+HEALTHY/.test(l)).length, 1, 'one header row');
  for (const service of ['frontend', 'api', 'db']) {
    const line = lines.filter((l) => new RegExp(`^[> ] ${service}\\s`).test(l));
    assert.equal(line.length, 1, `${service} on one line of its own`);
    assert.match(line[0]!, /\s\d+\/\d+\s+\d+(\.\d+)?\s+\d+\.\d\d%\s+\S+ms\s+\S+ms\s+\S+ms\s*$/, `${service}'s figures are whole and readable at 80 columns: ${line[0]}`);
  }
  assert.match(lines[0] ?? '', /meshctl demo · window 10s/);

  // The dashboard reads with exactly that token: revoked, the dashboard says the server no longer knows it.
  cli.ok(['token', 'revoke', dashboardToken!.AccessorID]);
  await waitFor(() => /the server refused the token: ACL not found/.test(capture().replace(/\s+/g, ' ')), 15_000, `the dashboard to report its revoked token:\n${capture()}`);

  tmux('send-keys', '-t', 'demo', 'q');
  const ended = await waitFor(() => {
    const screen = capture();
    return /EXIT=\d+/.test(screen) && screen;
  }, 30_000, 'the demo to exit');
  assert.match(ended, /EXIT=0/);
  assert.match(ended.replace(/\n/g, ''), /removed \d+ processes, namespaces (md[0-9a-z]+)-h0/);
  const prefix = /namespaces (md[0-9a-z]+)-h0/.exec(ended.replace(/\n/g, ''))![1]!;
  assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`${prefix}-`), 'no namespace of the demo is left');
  assert.ok(!existsSync(`/etc/netns/${prefix}-h0`));
});
