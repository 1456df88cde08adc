// The agent's Prometheus metrics on loopback. First a real proxy (the proxy
// bed: upstream listener → mTLS hop → inbound → app) feeding the metrics sink,
// scraped over HTTP after a known handful of requests: exact counts, the
// documented names and labels, never the path. Then a real agent joined to a
// real server: its meshctl-agent catalog entry, the http_sd endpoint a
// read-only token can use, and the gauges read from the agent at scrape time.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MetricsSink } from '../../src/agent/telemetry/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../../src/agent/telemetry/metrics-server.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { MESHCTL, api, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';

function get(port: number, path: string, options: { method?: string; host?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: options.host ?? '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every sample of a metric, as {labels text → value}. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match) out.set(match[1] ?? '', Number(match[2]));
  }
  return out;
}

const cleanups: Array<() => Promise<void> | void> = [];
/** The second test's mesh, which the consul_sd test reuses. */
let joined: { server: ServerProcess; read: string; target: string } | undefined;
const PROMETHEUS = process.env.MESHCTL_PROMETHEUS;
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('a few requests through a real proxy show up with exact counts, per direction, code and mTLS', async () => {
  const app: Server = createServer((req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('x');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => void app.close());
  const bed: ProxyBed = await startProxyBed('web', [{ id: 'web-1', port: (app.address() as { port: number }).port }], { protocol: 'http' });
  cleanups.push(() => bed.close());
  const sink = new MetricsSink({ certificates: () => [], configVersion: () => 3 });
  bed.proxy.telemetry.add(sink);
  const metrics: MetricsServer = await startMetricsServer(sink, ['127.0.0.1'], 0);
  cleanups.push(() => metrics.close());

  for (let i = 0; i < 5; i++) assert.equal((await get(bed.upstreamPort, `/ok/${i}`)).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await get(bed.upstreamPort, '/fail')).status, 500);

  const series = (direction: string, code: string) => `{direction="${direction}",source_service="web",destination_service="web",route="",response_code="${code}",mtls="true"}`;
  const expected = new Map([[series('outbound', '200'), 5], [series('outbound', '500'), 2], [series('inbound', '200'), 5], [series('inbound', '500'), 2]]);
  // A record is handed over when the proxy has sent the last byte, which may be just after the client read it.
  const scraped = await waitFor(async () => {
    const res = await get(metrics.port, '/metrics');
    const total = [...samples(res.body, 'meshctl_requests_total').values()].reduce((a, b) => a + b, 0);
    return total >= 14 ? res : undefined;
  }, 5000, 'the 14 records');
  assert.equal(scraped.status, 200);
  assert.match(scraped.type, /^text\/plain; version=0\.0\.4/);
  assert.deepEqual(samples(scraped.body, 'meshctl_requests_total'), expected);
  const counts = samples(scraped.body, 'meshctl_request_duration_seconds_count');
  assert.deepEqual(counts, expected, 'one duration per request, same labels');
  assert.equal(samples(scraped.body, 'meshctl_config_version').get(''), 3);
  for (const name of ['meshctl_requests_total', 'meshctl_request_duration_seconds', 'meshctl_tcp_connections_opened_total', 'meshctl_tcp_connections_open', 'meshctl_tcp_sent_bytes_total', 'meshctl_retries_total', 'meshctl_retry_budget_exhausted_total', 'meshctl_outlier_ejections_total', 'meshctl_circuit_breaker_overflows_total', 'meshctl_certificate_expiry_timestamp_seconds', 'meshctl_config_version', 'meshctl_agent_process_resident_memory_bytes']) {
    assert.match(scraped.body, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exposed`);
  }
  assert.doesNotMatch(scraped.body, /\/ok\/|\/fail/, 'no path in any label');

  const other = await get(metrics.port, '/');
  assert.equal(other.status, 404);
  assert.match(other.body, /GET \/metrics/);
  assert.equal((await get(metrics.port, '/metrics', { method: 'POST' })).status, 405);
});

test('a joined agent registers meshctl-agent on its metrics port; http_sd lists it for a read-only token; gauges come from the agent', async () => {
  const server: ServerProcess = await startServer();
  cleanups.push(async () => {
    await server.stop();
    removeDir(server.dataDir);
  });
  const root = mkdtempSync(join(tmpdir(), 'meshctl-metrics-'));
  const dirs = ['--data-dir', join(root, 'data'), '--config-dir', join(root, 'conf'), '--admin-addr', '127.0.0.1:0', '--inbound-addr', '127.0.0.1:0', '--metrics-port', '0'];
  cleanups.push(() => {
    spawnSync(MESHCTL, ['leave', '--force', ...dirs.slice(0, 4)], { encoding: 'utf8' });
    rmSync(root, { recursive: true, force: true });
  });
  // The agent token names only `web`: meshctl-agent needs no grant of its own.
  const made = await api(server, 'PUT', '/v1/acl/token', { NodeIdentities: [{ NodeName: 'node-m' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  const token = ((await made.json()) as { SecretID: string }).SecretID;
  const read = ((await (await api(server, 'PUT', '/v1/acl/token', { Policies: [{ Name: 'global-read-only' }] })).json()) as { SecretID: string }).SecretID;
  const joinRun = spawnSync(MESHCTL, ['join', server.httpsUrl, '--ca-hash', server.caHash, '--token', token, '--node-name', 'node-m', '--service', 'web=9', ...dirs], { encoding: 'utf8', timeout: 40_000 });
  assert.equal(joinRun.status, 0, joinRun.stderr);

  const entries = (await (await api(server, 'GET', '/v1/catalog/service/meshctl-agent')).json()) as Array<{ Node: string; ServiceAddress: string; ServicePort: number; ServiceTags: string[]; ServiceMeta: Record<string, string> }>;
  assert.equal(entries.length, 1);
  const [entry] = entries as [(typeof entries)[number]];
  assert.equal(entry.Node, 'node-m');
  assert.deepEqual(entry.ServiceTags, ['meshctl', 'metrics']);
  assert.equal(entry.ServiceMeta['meshctl-internal'], 'true');
  assert.ok(entry.ServicePort > 0, 'the port the kernel picked, not 0');
  // Not a mesh service: no VIP, so no <name>.mesh and never a transparent upstream.
  const meshServices = (await (await api(server, 'GET', '/v1/mesh/services')).json()) as Array<{ Name: string }>;
  assert.deepEqual(meshServices.map((s) => s.Name), ['web']);

  const sd = await fetch(`${server.url}/v1/mesh/prometheus/targets`, { headers: { authorization: `Bearer ${read}` } });
  assert.equal(sd.status, 200);
  const groups = (await sd.json()) as Array<{ targets: string[]; labels: Record<string, string> }>;
  assert.deepEqual(groups.map((g) => [g.targets, g.labels.__meta_consul_node, g.labels.__meta_consul_service, g.labels.__meta_consul_dc]), [[[`${entry.ServiceAddress}:${entry.ServicePort}`], 'node-m', 'meshctl-agent', 'dc1']]);
  assert.equal((await fetch(`${server.url}/v1/mesh/prometheus/targets`)).status, 403, 'no token, no targets');

  // The agent's gauges: its leaf for web expires in the future; the config version it applied.
  const scraped = await waitFor(async () => {
    const res = await get(entry.ServicePort, '/metrics', { host: entry.ServiceAddress });
    return samples(res.body, 'meshctl_certificate_expiry_timestamp_seconds').size > 0 ? res.body : undefined;
  }, 15_000, "the agent's certificate");
  const expiry = samples(scraped, 'meshctl_certificate_expiry_timestamp_seconds').get('{service="web"}') ?? 0;
  assert.ok(expiry > Date.now() / 1000 && expiry < Date.now() / 1000 + 48 * 3600, `web's leaf expires within its life: ${expiry}`);
  assert.ok((samples(scraped, 'meshctl_config_version').get('') ?? 0) > 0, 'the agent applied a config: its version is a catalog index');
  assert.equal((await get(entry.ServicePort, '/metrics')).status, 200, 'also on the loopback');
  joined = { server, read, target: `${entry.ServiceAddress}:${entry.ServicePort}` };
});

// Debian's prometheus is built without Consul SD (its changelog: "Disable Consul SD"); an upstream build runs this.
test('an upstream Prometheus finds the agent with consul_sd_configs (MESHCTL_PROMETHEUS)', { skip: PROMETHEUS ? false : 'set MESHCTL_PROMETHEUS to an upstream Prometheus build: Debian\'s is built without Consul SD' }, async () => {
  assert.ok(joined, 'the joined agent of the previous test');
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-prom-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global: { scrape_interval: 1s }
scrape_configs:
  - job_name: meshctl-agents
    consul_sd_configs:
      - server: ${new URL(joined.server.url).host}
        token: ${joined.read}
        services: [meshctl-agent]
    relabel_configs:
      - source_labels: [__meta_consul_node]
        target_label: node
`);
  const promPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const child = spawn(PROMETHEUS as string, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  cleanups.push(() => void child.kill('SIGKILL'));
  await waitFor(async () => {
    const res = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; health: string; scrapeUrl: string }> } };
    return res.data.activeTargets.some((t) => t.health === 'up' && t.labels.node === 'node-m' && t.scrapeUrl === `http://${joined?.target}/metrics`);
  }, 30_000, 'Prometheus to scrape the agent found through Consul SD');
});
