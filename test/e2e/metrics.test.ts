// Agent metrics end to end on the namespace test bed: a caller host and a
// callee host run real agents; Debian's real Prometheus, on a host of its
// own, finds both agents through the server's http_sd endpoint with a
// read-only token and scrapes them every second. A steady known load (50
// req/s for 30 s through the caller's upstream, every request counted) must
// come out of Prometheus's increase() and rate() within 5%, for the outbound
// reporter (the caller's proxy) and the inbound one (the callee's).

import assert from 'node:assert/strict';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, ROOT, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';

const NODE = process.execPath;
const PORT = 8500;
const PROM_PORT = 9090;
const RATE = 50;
const DURATION_MS = 30_000;

let bed: Testbed;
let server: ServerProcess;
let srv: TestbedHost, caller: TestbedHost, callee: TestbedHost, prom: TestbedHost;
const dirs = (h: TestbedHost) => ['--data-dir', join(h.dir, 'data'), '--config-dir', join(h.dir, 'conf')];

async function meshctl(host: TestbedHost, args: string[]) {
  const r = await host.exec(MESHCTL, args, { env: { ...process.env, MESHCTL_SERVER: `${srv.ip}:${PORT}`, MESHCTL_TOKEN: server.token, MESHCTL_CONFIG_DIR: join(host.dir, 'conf') }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meshctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Prometheus's HTTP API, asked from inside its own namespace. */
async function promApi<T>(path: string): Promise<T> {
  const r = await prom.exec('curl', ['-sf', '--max-time', '5', `http://${prom.ip}:${PROM_PORT}${path}`]);
  if (r.code !== 0) throw new Error(`curl ${path}: exit ${r.code} ${r.stderr}`);
  const body = JSON.parse(r.stdout) as { status: string; data: T };
  if (body.status !== 'success') throw new Error(`${path}: ${r.stdout}`);
  return body.data;
}

/** One scalar from an instant query (the sum of the vector), or undefined when the vector is empty. */
async function query(expr: string, time?: number): Promise<number | undefined> {
  const data = await promApi<{ result: Array<{ value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}${time === undefined ? '' : `&time=${time}`}`);
  if (data.result.length === 0) return undefined;
  return data.result.reduce((sum, r) => sum + Number(r.value[1]), 0);
}

const series = (direction: string) => `meshctl_requests_total{job="meshctl-agents",direction="${direction}",source_service="client",destination_service="api"}`;

before(async () => {
  bed = await createTestbed({ hosts: 4, name: 'metrics' });
  [srv, caller, callee, prom] = bed.hosts as [TestbedHost, TestbedHost, TestbedHost, TestbedHost];
  server = await startServer({ netns: srv.name, host: srv.ip, port: PORT, httpsPort: 8501 });
  callee.spawn(NODE, ['-e', `require('node:http').createServer((req, res) => res.end('api')).listen(9081, '127.0.0.1')`]);
  await waitFor(async () => (await callee.exec('curl', ['-sf', 'http://127.0.0.1:9081/'])).code === 0, 10_000, 'the app');
  const common = ['--ca-hash', server.caHash, '--token', server.token, '--heartbeat-interval', '1s'];
  await meshctl(callee, ['join', server.httpsUrl, ...common, '--node-name', 'callee', '--service', 'api=9081,check=tcp:127.0.0.1:9081,interval=1s', ...dirs(callee)]);
  await meshctl(caller, ['join', server.httpsUrl, ...common, '--node-name', 'caller', '--service', 'client=7000', '--upstream', 'api:9191', ...dirs(caller)]);
  await meshctl(caller, ['config', 'set', 'service-defaults', 'api', 'protocol=http']);
  await meshctl(caller, ['intention', 'allow', 'client', 'api']);
  await waitFor(async () => (await caller.exec('curl', ['-sf', 'http://127.0.0.1:9191/'])).stdout === 'api', 30_000, 'a first call through the mesh');

  // Prometheus gets a read-only token, as an operator would give it: it can list targets, not change anything.
  const created = JSON.parse(await meshctl(caller, ['token', 'create', '--policy', 'read', '--description', 'prometheus', '--json'])) as { SecretID: string };
  // type: Bearer is spelled out: Debian's 2.42 sends the bare credentials in http_sd's Authorization header without it.
  const config = join(prom.dir, 'prometheus.yml');
  writeFileSync(config, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: meshctl-agents
    http_sd_configs:
      - url: http://${srv.ip}:${PORT}/v1/mesh/prometheus/targets
        refresh_interval: 1s
        authorization:
          type: Bearer
          credentials: ${created.SecretID}
    relabel_configs:
      - source_labels: [__meta_consul_node]
        target_label: node
`);
  const log = join(prom.dir, 'prometheus.log');
  const fd = openSync(log, 'a');
  prom.spawn('/usr/bin/prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(prom.dir, 'tsdb')}`, `--web.listen-address=${prom.ip}:${PROM_PORT}`], { stdio: ['ignore', fd, fd] });
  try {
    await waitFor(async () => {
      const targets = await promApi<{ activeTargets: Array<{ labels: Record<string, string>; health: string }> }>('/api/v1/targets');
      return targets.activeTargets.filter((t) => t.health === 'up').length === 2;
    }, 60_000, 'Prometheus to find and scrape both agents');
  } catch (error) {
    throw new Error(`${(error as Error).message}\nprometheus log:\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`);
  }
});

after(async () => {
  await server?.stop();
  await bed?.destroy();
});

test('Prometheus finds both agents through http_sd with a read-only token, and both are up', async () => {
  const targets = await promApi<{ activeTargets: Array<{ labels: Record<string, string>; health: string; scrapeUrl: string }> }>('/api/v1/targets');
  assert.deepEqual(targets.activeTargets.map((t) => [t.labels.node, t.health, t.scrapeUrl]).sort(), [
    ['callee', 'up', `http://${callee.ip}:15090/metrics`],
    ['caller', 'up', `http://${caller.ip}:15090/metrics`],
  ]);
  for (const node of ['caller', 'callee']) assert.equal(await query(`up{job="meshctl-agents",node="${node}"}`), 1, `up for ${node}`);
});

test(`a steady ${RATE} req/s for ${DURATION_MS / 1000} s is what Prometheus's increase() and rate() report, within 5%, outbound and inbound`, async () => {
  // Counters move only while the load runs: wait until Prometheus holds the same value for both reporters.
  const before = await waitFor(async () => {
    const out = await query(series('outbound'));
    const inb = await query(series('inbound'));
    return out !== undefined && out === inb ? out : undefined;
  }, 20_000, 'both reporters to agree before the load');
  const run = await caller.exec(NODE, [join(ROOT, 'test/fixtures/http-paced.ts'), '9191', String(RATE), String(DURATION_MS), '/load'], { timeoutMs: DURATION_MS + 30_000 });
  assert.equal(run.code, 0, run.stderr);
  const load = JSON.parse(run.stdout) as { sent: number; answered: number; ok: number; failed: number; startedAt: number; endedAt: number };
  assert.equal(load.sent, (RATE * DURATION_MS) / 1000);
  assert.equal(load.ok, load.sent, `every request answered 200: ${run.stdout}`);

  // Scraped and stored: both counters at before + sent (exact, as instant values).
  for (const direction of ['outbound', 'inbound']) {
    await waitFor(async () => (await query(series(direction))) === before + load.sent, 20_000, `Prometheus to hold the ${direction} count ${before + load.sent}`);
  }
  // A window that starts before the load and ends after it, evaluated once Prometheus has samples past its end.
  const end = Math.ceil(load.endedAt / 1000) + 3;
  const window = end - Math.floor(load.startedAt / 1000) + 3;
  await waitFor(async () => ((await query('vector(time())')) ?? 0) > end + 1, 20_000, 'Prometheus to have scraped past the window');
  const figures: string[] = [];
  for (const direction of ['outbound', 'inbound']) {
    const increase = (await query(`sum(increase(${series(direction)}[${window}s]))`, end)) ?? 0;
    // rate() over the run itself: RATE per second while the load ran.
    const runEnd = Math.floor(load.endedAt / 1000);
    const runSeconds = Math.floor((load.endedAt - load.startedAt) / 1000) - 2;
    const rate = (await query(`sum(rate(${series(direction)}[${runSeconds}s]))`, runEnd)) ?? 0;
    const sentRate = load.sent / ((load.endedAt - load.startedAt) / 1000);
    figures.push(`${direction}: increase ${increase.toFixed(1)} / sent ${load.sent} = ${(increase / load.sent).toFixed(4)}; rate ${rate.toFixed(2)} / sent rate ${sentRate.toFixed(2)} = ${(rate / sentRate).toFixed(4)}`);
    assert.ok(Math.abs(increase / load.sent - 1) <= 0.05, `${direction} increase(): ${figures.at(-1)}`);
    assert.ok(Math.abs(rate / sentRate - 1) <= 0.05, `${direction} rate(): ${figures.at(-1)}`);
  }
  process.stdout.write(`# ${figures.join('\n# ')}\n`);
});
