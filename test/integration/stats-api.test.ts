// The telemetry API against a real server with ACLs: the agent's own summary
// and reporter (over its real server client) report, a read-only token reads
// /v1/mesh/stats and /v1/mesh/stats/errors, and the real `meshctl stat`
// prints them. Tokens that may not report or read are refused with a status
// and a reason.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ServerClient } from '../../src/agent/server-client.ts';
import { SummarySink } from '../../src/agent/telemetry/summary.ts';
import { TelemetryReporter } from '../../src/agent/telemetry/reporter.ts';
import { systemClock } from '../../src/lib/clock.ts';
import type { HttpRecord } from '../../src/proxy/telemetry/records.ts';
import { cliFor } from '../helpers/cli.ts';
import { api, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
const tokens = { host1: '', host2: '', reader: '' };
const cli = cliFor(() => server);

async function makeToken(body: unknown): Promise<string> {
  const res = await api(server, 'PUT', '/v1/acl/token', body);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { SecretID: string }).SecretID;
}

const rec = (over: Partial<HttpRecord>): HttpRecord => ({
  direction: 'inbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/items', status: 200, mtls: true, startedAt: Date.now(), durationMs: 3, requestBytes: 0, responseBytes: 0, ...over,
});

before(async () => {
  server = await startServer();
  tokens.host1 = await makeToken({ NodeIdentities: [{ NodeName: 'host-1' }], ServiceIdentities: [{ ServiceName: 'api' }] });
  tokens.host2 = await makeToken({ NodeIdentities: [{ NodeName: 'host-2' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  tokens.reader = await makeToken({ Policies: [{ Name: 'global-read-only' }] });
  const reg = await api({ url: server.url, token: tokens.host1 }, 'PUT', '/v1/catalog/register', { Node: 'host-1', Address: '10.0.0.1', Service: { Service: 'api', Port: 8080 } });
  assert.equal(reg.status, 200);
  // The agent's own catalog entry (its metrics port) is no mesh service: stat leaves it out.
  const own = await api({ url: server.url, token: tokens.host1 }, 'PUT', '/v1/catalog/register', { Node: 'host-1', Address: '10.0.0.1', Service: { Service: 'meshctl-agent', Port: 15090, Tags: ['meshctl', 'metrics'], Meta: { 'meshctl-internal': 'true' } } });
  assert.equal(own.status, 200, await own.text());
  // web, the caller, runs on host-2: its outbound proxy reports the web → api edge.
  const web = await api({ url: server.url, token: tokens.host2 }, 'PUT', '/v1/catalog/register', { Node: 'host-2', Address: '10.0.0.2', Service: { Service: 'web', Port: 8080 } });
  assert.equal(web.status, 200, await web.text());
});

after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

test("an agent's report (its own summary, its own token) is what a read-only token reads back", async () => {
  const agentOf = (node: string, token: string) => {
    const client = new ServerClient(server.url, token);
    const summary = new SummarySink(systemClock);
    const reporter = new TelemetryReporter({ node, summary, clock: systemClock, send: (r) => client.reportTelemetry(r) });
    return { client, summary, reporter };
  };
  const callee = agentOf('host-1', tokens.host1);
  const caller = agentOf('host-2', tokens.host2);
  // The query string stays on the agent: a read-only token reads the errors' paths.
  for (let i = 0; i < 30; i++) callee.summary.http(rec({ status: i % 10 === 0 ? 500 : 200, durationMs: 2 + (i % 5), path: '/items?token=s3cret' }));
  for (let i = 0; i < 30; i++) caller.summary.http(rec({ direction: 'outbound', source: 'web', status: i % 10 === 0 ? 500 : 200 }));
  callee.summary.tcpOpened('inbound', 'web', 'api');
  for (const agent of [callee, caller]) {
    await agent.reporter.tick();
    agent.client.close();
    assert.deepEqual(agent.reporter.stats, { sent: 1, failed: 0 });
  }

  type Stats = { window: string; windowSeconds: number; generatedAt: string; services: Array<Record<string, unknown>>; edges: Array<Record<string, unknown>> };
  // A report counts once the second it arrived in has ended (windows are whole seconds). The wait is
  // for both reports: the row is the callee's, the edge the caller's, and when a second ends between
  // the two (they arrive 5-35 ms apart: 1-3% of runs) a read shows the row a second before the edge.
  const stats = await waitFor(async () => {
    const res = await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats?window=10s');
    assert.equal(res.status, 200);
    const read = (await res.json()) as Stats;
    return read.services.some((s) => s.service === 'api' && s.requests !== 0) && read.edges.length > 0 && read;
  }, 3000, 'both reports to be counted');
  assert.equal(stats.window, '10s');
  assert.equal(stats.windowSeconds, 10);
  assert.ok(!Number.isNaN(Date.parse(stats.generatedAt)));
  const row = stats.services.find((s) => s.service === 'api') as { instances: unknown; requests: number; successRate: number; latencyMs: { p50: number; p99: number }; tcp: { open: number; opened: number } };
  assert.deepEqual(row.instances, { healthy: 1, total: 1 });
  assert.equal(row.requests, 30);
  assert.equal(row.successRate, 27 / 30);
  assert.ok(row.latencyMs.p50 > 3 && row.latencyMs.p50 < 4.2 && row.latencyMs.p99 > 5.8 && row.latencyMs.p99 < 6.2, JSON.stringify(row.latencyMs));
  assert.deepEqual([row.tcp.open, row.tcp.opened], [1, 1]);
  assert.deepEqual(stats.edges.map((e) => [e.source, e.destination, e.requests, e.successRate]), [['web', 'api', 30, 27 / 30]]);

  const errors = (await (await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats/errors?service=api&limit=2')).json()) as { errors: Array<Record<string, unknown>> };
  assert.equal(errors.errors.length, 2, 'limit');
  assert.deepEqual({ ...errors.errors[0], time: undefined }, { time: undefined, node: 'host-1', direction: 'inbound', source: 'web', destination: 'api', status: 500, cause: 'upstream_5xx', hop: 'inbound', method: 'GET', path: '/items' });
});

test('reporting needs node:write on the node reported for; reading needs a token that reads', async () => {
  const body = { node: 'host-1', series: [], open: [], errors: [] };
  const anonymous = await api({ url: server.url, token: '' }, 'PUT', '/v1/mesh/telemetry', body);
  assert.equal(anonymous.status, 403);
  assert.match(await anonymous.text(), /Permission denied: anonymous token lacks permission 'node:write' on "host-1"/);
  const otherAgent = await api({ url: server.url, token: tokens.host2 }, 'PUT', '/v1/mesh/telemetry', body);
  assert.equal(otherAgent.status, 403, 'host-2 may not report for host-1');
  assert.match(await otherAgent.text(), /'node:write' on "host-1"/);
  assert.equal((await api({ url: server.url, token: tokens.reader }, 'PUT', '/v1/mesh/telemetry', body)).status, 403, 'a reader does not report');
  const unknown = await api({ url: server.url, token: 'not-a-token' }, 'PUT', '/v1/mesh/telemetry', body);
  assert.equal(unknown.status, 403);
  assert.equal((await unknown.text()).trim(), 'ACL not found');
  const bad = await api({ url: server.url, token: tokens.host1 }, 'PUT', '/v1/mesh/telemetry', { ...body, series: [{ direction: 'sideways' }] });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /Invalid telemetry report: series\.0\.direction/);

  const noToken = await api({ url: server.url, token: '' }, 'GET', '/v1/mesh/stats');
  assert.equal(noToken.status, 403);
  assert.match(await noToken.text(), /Permission denied: anonymous token lacks permission 'service:read'/);
  const badWindow = await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats?window=5m');
  assert.equal(badWindow.status, 400);
  assert.equal((await badWindow.text()).trim(), 'Invalid window "5m": use 10s, 1m, 10m');
  assert.equal((await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats/errors?limit=0')).status, 400);
});

test('meshctl stat prints the table and the edges; a bad window is a usage error naming the allowed ones', () => {
  const table = cli.run(['stat', '--window', '10m'], tokens.reader);
  assert.equal(table.code, 0, table.stderr);
  const [header, ...rows] = table.stdout.trim().split('\n');
  assert.deepEqual(header?.split(/\s+/), ['NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN']);
  assert.match(rows.find((r) => r.startsWith('api')) ?? '', /^api\s+1\/1\s+90\.00%\s+\d+(\.\d+)?rps\s+\S+ms\s+\S+ms\s+\S+ms\s+1$/);
  const edges = cli.run(['stat', '--edges'], tokens.reader);
  assert.equal(edges.code, 0, edges.stderr);
  assert.match(edges.stdout, /web → api\s+\d+(\.\d+)?rps\s+90\.00%/);
  const json = JSON.parse(cli.run(['stat', 'api', '--json'], tokens.reader).stdout) as { window: string; services: Array<{ service: string }> };
  assert.equal(json.window, '1m');
  assert.deepEqual(json.services.map((s) => s.service), ['api']);
  const all = JSON.parse(cli.run(['stat', '--json'], tokens.reader).stdout) as { services: Array<{ service: string }> };
  assert.deepEqual(all.services.map((s) => s.service), ['api', 'web'], "every catalog service but the agents' own entry");
  const bad = cli.run(['stat', '--window', '5m'], tokens.reader);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid --window "5m" \(give one of 10s, 1m, 10m\)/);
  const refused = cli.run(['stat'], '');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the server refused the token/);
});

test('a service the catalog does not have is a 404 naming it, and meshctl stat fails with it rather than an empty table', async () => {
  const res = await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats?service=nosuch');
  assert.equal(res.status, 404);
  assert.equal(await res.text(), 'no service "nosuch": it has no instance in the catalog\n');
  assert.equal(res.headers.get('X-Mesh-Error-Hint'), 'meshctl services lists the services; check the name');
  const noToken = await api({ url: server.url, token: '' }, 'GET', '/v1/mesh/stats?service=nosuch');
  assert.equal(noToken.status, 403, 'a token that may not read the name learns nothing of it');
  for (const args of [['stat', 'nosuch'], ['stat', '--edges', 'nosuch'], ['stat', 'nosuch', '--json']]) {
    const r = cli.run(args, tokens.reader);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stdout, '', `${args.join(' ')}: no table`);
    assert.equal(r.stderr, 'error: the server answered 404: no service "nosuch": it has no instance in the catalog (meshctl services lists the services; check the name)\n');
  }
});

test("a node's report counts only for the services registered on it: the rest is refused, counted and logged", async () => {
  type Stats = { services: Array<{ service: string; requests: number; successRate: number | null; tcp: { open: number } }>; edges: Array<{ source: string; destination: string }>; refusedSeries: number; refusedErrors: number };
  const read = async () => (await (await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats?window=10m&service=api')).json()) as Stats;
  const before = await read();
  // host-2 runs web only: it claims api's inbound traffic, an edge it is not the caller of, and an error on api.
  const now = new Date().toISOString();
  const forged = {
    node: 'host-2',
    series: [
      { direction: 'inbound', source: 'evil', destination: 'api', requests: 100000, successes: 0, latency: [[300, 100000]], tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 },
      { direction: 'outbound', source: 'frontend', destination: 'api', requests: 7, successes: 0, latency: [], tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 },
      { direction: 'outbound', source: 'web', destination: 'api', requests: 1, successes: 1, latency: [], tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 },
    ],
    open: [{ direction: 'inbound', source: 'evil', destination: 'api', open: 999 }],
    errors: [{ time: now, direction: 'inbound', source: 'web', destination: 'api', status: 500, cause: 'upstream_5xx', hop: 'inbound', method: 'GET', path: '/spoofed' }],
  };
  const res = await api({ url: server.url, token: tokens.host2 }, 'PUT', '/v1/mesh/telemetry', forged);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { accepted: true, series: 1, errors: 0, refused: { series: 2, open: 1, errors: 1 } });
  const after = await waitFor(async () => {
    const s = await read();
    return s.refusedSeries - before.refusedSeries === 3 && s;
  }, 3000, 'the refusal to be counted');
  assert.equal(after.refusedErrors - before.refusedErrors, 1);
  // rps moves as the server's uptime grows into the window: compare what was counted.
  const api1 = (s: Stats) => s.services.filter((r) => r.service === 'api').map((r) => [r.requests, r.successRate, r.tcp.open]);
  assert.deepEqual(api1(after), api1(before), "api's row (requests, success, open connections) is what its own host reported, untouched");
  assert.deepEqual(api1(after), [[30, 0.9, 1]]);
  assert.deepEqual(after.edges.map((e) => `${e.source}→${e.destination}`), ['web→api'], 'no frontend → api edge');
  const errors = (await (await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats/errors?service=api&limit=1000')).json()) as { errors: Array<{ path: string }> };
  assert.ok(!errors.errors.some((e) => e.path === '/spoofed'), 'the forged error is not listed');
  await waitFor(() => /refused 2 series, 1 open-connection gauges and 1 errors from node "host-2".*inbound evil → api/.test(server.output()), 3000, 'the refusal to be logged');
  // Logged at most once per node per minute: test/unit/telemetry/node-scope.test.ts checks that with a fake clock
  // (here a second line would arrive on the server's pipe after any assertion could look for it).
});

test('a report sent late says how old it is: the server counts it in the minute it happened, not in the last 10 seconds', async () => {
  const latency = [[100, 40]];
  const report = { node: 'host-2', series: [{ direction: 'outbound', source: 'web', destination: 'db', requests: 40, successes: 40, latency, tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 }], open: [], errors: [], ageMs: 30_000 };
  const put = await api({ url: server.url, token: tokens.host2 }, 'PUT', '/v1/mesh/telemetry', report);
  assert.equal(put.status, 200, await put.text());
  const tooOld = await api({ url: server.url, token: tokens.host2 }, 'PUT', '/v1/mesh/telemetry', { ...report, ageMs: 600_001 });
  assert.equal(tooOld.status, 400);
  assert.match(await tooOld.text(), /ageMs/);
  type Edges = { edges: Array<{ source: string; destination: string; requests: number }> };
  const edge = async (window: string) => {
    const res = await api({ url: server.url, token: tokens.reader }, 'GET', `/v1/mesh/stats?window=${window}`);
    return ((await res.json()) as Edges).edges.find((e) => e.source === 'web' && e.destination === 'db')?.requests ?? 0;
  };
  assert.equal(await waitFor(async () => (await edge('1m')) || false, 3000, 'the late report in the 1 m window'), 40);
  assert.equal(await edge('10s'), 0, 'not in the last 10 seconds');
});
