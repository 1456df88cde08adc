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
});

after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

test("an agent's report (its own summary, its own token) is what a read-only token reads back", async () => {
  const client = new ServerClient(server.url, tokens.host1);
  const summary = new SummarySink(systemClock);
  const reporter = new TelemetryReporter({ node: 'host-1', summary, clock: systemClock, send: (r) => client.reportTelemetry(r) });
  for (let i = 0; i < 30; i++) summary.http(rec({ status: i % 10 === 0 ? 500 : 200, durationMs: 2 + (i % 5) }));
  for (let i = 0; i < 30; i++) summary.http(rec({ direction: 'outbound', source: 'web', status: i % 10 === 0 ? 500 : 200 }));
  summary.tcpOpened('inbound', 'web', 'api');
  await reporter.tick();
  client.close();
  assert.deepEqual(reporter.stats, { sent: 1, failed: 0 });

  type Stats = { window: string; windowSeconds: number; generatedAt: string; services: Array<Record<string, unknown>>; edges: Array<Record<string, unknown>> };
  // A report counts once the second it arrived in has ended (windows are whole seconds).
  const stats = await waitFor(async () => {
    const res = await api({ url: server.url, token: tokens.reader }, 'GET', '/v1/mesh/stats?window=10s');
    assert.equal(res.status, 200);
    const read = (await res.json()) as Stats;
    return read.services.some((s) => s.service === 'api' && s.requests !== 0) && read;
  }, 3000, 'the report to be counted');
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
  assert.match(rows.find((r) => r.startsWith('api')) ?? '', /^api\s+1\/1\s+90\.00%\s+\d+\.\drps\s+\S+ms\s+\S+ms\s+\S+ms\s+1$/);
  const edges = cli.run(['stat', '--edges'], tokens.reader);
  assert.equal(edges.code, 0, edges.stderr);
  assert.match(edges.stdout, /web → api\s+\d+\.\drps\s+90\.00%/);
  const json = JSON.parse(cli.run(['stat', 'api', '--json'], tokens.reader).stdout) as { window: string; services: Array<{ service: string }> };
  assert.equal(json.window, '1m');
  assert.deepEqual(json.services.map((s) => s.service), ['api']);
  const all = JSON.parse(cli.run(['stat', '--json'], tokens.reader).stdout) as { services: Array<{ service: string }> };
  assert.deepEqual(all.services.map((s) => s.service), ['api'], "every catalog service but the agents' own entry");
  const bad = cli.run(['stat', '--window', '5m'], tokens.reader);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown window "5m" \(use --window 10s, --window 1m, --window 10m\)/);
  const refused = cli.run(['stat'], '');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the server refused the token/);
});
