// Prometheus's consul_sd_configs against a real `meshctl server`, with a
// read-only token.
//
// The first test runs a real Prometheus. Debian's `prometheus` package is built
// without Consul service discovery (its changelog, 2.33.5+ds1-4: "Disable Consul
// SD until its Debian package is back in shape"), so with that binary the test
// is skipped and says why; MESHCTL_PROMETHEUS=/path/to/prometheus runs it with
// an upstream build. The second test always runs: it makes the requests
// Prometheus's Consul SD makes (discovery/consul/consul.go), checks every
// answer decodes into the Go client's structs, and builds the targets as
// Prometheus does.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { goDecodeErrors, SERVICE_ENTRY } from '../helpers/go-decode.ts';
import { api, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';

const PROMETHEUS = process.env.MESHCTL_PROMETHEUS || '/usr/bin/prometheus';
const NODE = 'sd-host';

let server: ServerProcess;
/** A global-read-only token, as an operator would give Prometheus. */
let readToken: string;

before(async () => {
  server = await startServer();
  const made = await api(server, 'PUT', '/v1/acl/token', { Policies: [{ Name: 'global-read-only' }], Description: 'prometheus' });
  if (made.status !== 200) assert.fail(`PUT /v1/acl/token: ${made.status} ${await made.text()}`);
  readToken = ((await made.json()) as { SecretID: string }).SecretID;
});

after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

interface Instance {
  id: string;
  port: number;
  tags: string[];
  /** Registered with a catalog check in this state; none when undefined. */
  check?: 'warning';
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function instancesOf(service: string, count: number): Promise<Instance[]> {
  const out: Instance[] = [];
  for (let i = 1; i <= count; i++) {
    out.push({ id: `${service}-${i}`, port: await freePort(), tags: ['v1', `zone-${i}`], ...(i === 1 ? { check: 'warning' as const } : {}) });
  }
  return out;
}

async function register(service: string, instance: Instance): Promise<void> {
  const res = await api(server, 'PUT', '/v1/catalog/register', {
    Node: NODE,
    Address: '127.0.0.1',
    Service: { Service: service, ID: instance.id, Port: instance.port, Tags: instance.tags },
    ...(instance.check
      ? {
          Check: {
            CheckID: `${instance.id}-http`,
            Name: 'http',
            Status: instance.check,
            ServiceID: instance.id,
            Type: 'http',
            Definition: { HTTP: `http://127.0.0.1:${instance.port}/health`, Interval: '10s', Timeout: '1s', Header: { 'X-Probe': ['1'] } },
          },
        }
      : {}),
  });
  assert.equal(res.status, 200, await res.text());
}

async function deregister(instance: Instance): Promise<void> {
  const res = await api(server, 'PUT', '/v1/catalog/deregister', { Node: NODE, ServiceID: instance.id });
  assert.equal(res.status, 200, await res.text());
}

/** id → the labels Prometheus should discover for it. */
function expectedTargets(service: string, instances: Instance[]): Record<string, Record<string, string>> {
  return Object.fromEntries(
    instances.map((i) => [
      i.id,
      {
        __address__: `127.0.0.1:${i.port}`,
        __meta_consul_service: service,
        __meta_consul_service_id: i.id,
        __meta_consul_service_port: String(i.port),
        __meta_consul_node: NODE,
        __meta_consul_address: '127.0.0.1',
        __meta_consul_tags: `,${i.tags.join(',')},`,
        __meta_consul_health: i.check ?? 'passing',
      },
    ]),
  );
}

const pick = (labels: Record<string, string>, keys: string[]): Record<string, string> => Object.fromEntries(keys.map((k) => [k, labels[k] ?? '(absent)']));

interface PrometheusProcess {
  url: string;
  exited: () => boolean;
  output: () => string;
  stop: () => Promise<void>;
}

function startPrometheus(dir: string, webPort: number, configFile: string): PrometheusProcess {
  const proc = spawn(
    PROMETHEUS,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } },
  );
  let out = '';
  const keep = (chunk: Buffer) => (out = (out + chunk.toString()).slice(-64 * 1024));
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let spawnError: Error | undefined;
  proc.once('error', (error) => (spawnError = error));
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const gone = () => spawnError !== undefined || proc.exitCode !== null || proc.signalCode !== null;
  return {
    url: `http://127.0.0.1:${webPort}`,
    exited: gone,
    output: () => (spawnError ? `${spawnError.message}\n` : '') + out,
    async stop() {
      if (spawnError) return;
      if (!gone()) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface ActiveTarget {
  discoveredLabels: Record<string, string>;
}

test('Prometheus consul_sd_configs discovers each instance and drops a deregistered one', async (t) => {
  assert.ok(existsSync(PROMETHEUS), `${PROMETHEUS} not found: install the Debian package prometheus (or set MESHCTL_PROMETHEUS)`);
  const service = 'prom-app';
  const instances = await instancesOf(service, 3);
  for (const instance of instances) await register(service, instance);

  const dir = mkdtempSync(join(tmpdir(), 'meshctl-prometheus-'));
  t.after(() => removeDir(dir));
  const configFile = join(dir, 'prometheus.yml');
  // JSON is YAML. No `services:` list, so Prometheus watches the catalog too;
  // no `datacenter:`, so it asks /v1/agent/self first.
  writeFileSync(
    configFile,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '500ms', evaluation_interval: '1m' },
      scrape_configs: [
        {
          job_name: 'meshctl',
          consul_sd_configs: [{ server: server.address, token: readToken, refresh_interval: '1s' }],
        },
      ],
    }),
  );
  const prometheus = startPrometheus(dir, await freePort(), configFile);
  t.after(() => prometheus.stop());

  const state = await waitFor(
    async () => (prometheus.exited() ? 'exited' : (await fetch(`${prometheus.url}/-/ready`)).ok && 'ready'),
    20_000,
    'Prometheus to be ready',
  );
  if (state === 'exited') {
    if (/field consul_sd_configs not found/.test(prometheus.output())) {
      t.skip(`${PROMETHEUS} is built without Consul service discovery (Debian disables it); set MESHCTL_PROMETHEUS to an upstream prometheus to run this test`);
      return;
    }
    assert.fail(`Prometheus exited before it was ready:\n${prometheus.output()}`);
  }

  const keys = Object.keys(Object.values(expectedTargets(service, instances))[0]!);
  let seen: unknown;
  const discovered = async (): Promise<Record<string, Record<string, string>>> => {
    const res = await fetch(`${prometheus.url}/api/v1/targets?state=active`);
    const body = (await res.json()) as { data: { activeTargets: ActiveTarget[] } };
    const mine = body.data.activeTargets.map((a) => a.discoveredLabels).filter((l) => l.__meta_consul_service === service);
    const out = Object.fromEntries(mine.map((l) => [l.__meta_consul_service_id as string, pick(l, keys)]));
    seen = out;
    return out;
  };
  const until = async (want: Record<string, Record<string, string>>, what: string) => {
    try {
      await waitFor(async () => isDeepStrictEqual(await discovered(), want), 25_000, what);
    } catch (error) {
      assert.deepEqual(seen, want, `${(error as Error).message}\nPrometheus output:\n${prometheus.output()}`);
    }
  };

  await until(expectedTargets(service, instances), 'Prometheus to list every registered instance');
  await deregister(instances[1]!);
  await until(expectedTargets(service, [instances[0]!, instances[2]!]), 'Prometheus to drop the deregistered instance');
});

test("Prometheus's Consul SD requests, made as it makes them, find the instances and see a deregistration", async () => {
  const service = 'sd-app';
  const instances = await instancesOf(service, 3);
  for (const instance of instances) await register(service, instance);
  // Exactly as the Go client sends them: the token as X-Consul-Token, allow_stale
  // as `stale=` with no value, the 2-minute watch as `wait=120000ms`, no index at first.
  const get = async (path: string, indexed = true) => {
    const res = await fetch(server.url + path, { headers: { 'X-Consul-Token': readToken } });
    if (res.status !== 200) assert.fail(`${path}: ${res.status} ${await res.text()}`);
    const index = Number(res.headers.get('X-Consul-Index'));
    if (indexed) assert.ok(Number.isSafeInteger(index) && index >= 1, `${path}: X-Consul-Index must be ≥ 1 or Prometheus never emits targets, got ${res.headers.get('X-Consul-Index')}`);
    return { index, body: (await res.json()) as unknown };
  };

  // No `datacenter:` configured: Prometheus decodes /v1/agent/self into
  // map[string]map[string]interface{} and needs Config.Datacenter as a string.
  const self = (await get('/v1/agent/self', false)).body as Record<string, unknown>;
  for (const [key, value] of Object.entries(self)) {
    assert.ok(value === null || (typeof value === 'object' && !Array.isArray(value)), `agent/self .${key} must be an object for Go`);
  }
  assert.equal(typeof (self.Config as Record<string, unknown>).Datacenter, 'string');

  const catalog = await get('/v1/catalog/services?stale=&wait=120000ms');
  assert.deepEqual(goDecodeErrors(catalog.body, { map: 'strings' }), []);
  assert.deepEqual([...((catalog.body as Record<string, string[]>)[service] ?? [])].sort(), ['v1', 'zone-1', 'zone-2', 'zone-3']);

  const healthPath = `/v1/health/service/${service}?stale=&wait=120000ms`;
  const first = await get(healthPath);
  assert.deepEqual(goDecodeErrors(first.body, { list: SERVICE_ENTRY }), [], 'the health answer decodes into []*api.ServiceEntry');
  assert.deepEqual(targetsOf(first.body), expectedTargets(service, instances));

  // The next watch holds until the service changes (Prometheus's HTTP client
  // gives up after 135 s), then answers with a greater index.
  const started = Date.now();
  const watch = get(`${healthPath}&index=${first.index}`);
  await deregister(instances[1]!);
  const next = await watch;
  assert.ok(Date.now() - started < 10_000, 'the blocking query wakes on the deregistration');
  assert.ok(next.index > first.index, `the index moves past ${first.index}, got ${next.index}`);
  assert.deepEqual(targetsOf(next.body), expectedTargets(service, [instances[0]!, instances[2]!]));
});

/** The labels Prometheus's Consul SD gives each ServiceEntry, keyed by service ID. */
function targetsOf(body: unknown): Record<string, Record<string, string>> {
  const entries = body as Array<{
    Node: { Node: string; Address: string };
    Service: { ID: string; Service: string; Address: string; Port: number; Tags: string[] | null };
    Checks: Array<{ CheckID: string; Status: string }> | null;
  }>;
  return Object.fromEntries(
    entries.map((e) => [
      e.Service.ID,
      {
        __address__: `${e.Service.Address || e.Node.Address}:${e.Service.Port}`,
        __meta_consul_service: e.Service.Service,
        __meta_consul_service_id: e.Service.ID,
        __meta_consul_service_port: String(e.Service.Port),
        __meta_consul_node: e.Node.Node,
        __meta_consul_address: e.Node.Address,
        __meta_consul_tags: `,${(e.Service.Tags ?? []).join(',')},`,
        __meta_consul_health: aggregatedStatus(e.Checks ?? []),
      },
    ]),
  );
}

/** api.HealthChecks.AggregatedStatus: maintenance (by check ID), then critical, then warning; none is passing. */
function aggregatedStatus(checks: Array<{ CheckID: string; Status: string }>): string {
  const statuses = new Set<string>();
  for (const c of checks) {
    if (c.CheckID === '_node_maintenance' || c.CheckID.startsWith('_service_maintenance:')) statuses.add('maintenance');
    else if (['passing', 'warning', 'critical'].includes(c.Status)) statuses.add(c.Status);
    else return '';
  }
  for (const s of ['maintenance', 'critical', 'warning']) if (statuses.has(s)) return s;
  return 'passing';
}
