// Catalog benchmark: a real `meshctl server` on a durable store (a temp data
// dir on disk, not --dev, so every acknowledged write paid for its fsync),
// driven over loopback by keep-alive HTTP clients in this process.
//
//  (a) registrations per second: PUT /v1/catalog/register of distinct service
//      instances (each with a check) from N concurrent keep-alive clients, for
//      a fixed few seconds per concurrency, with p50/p99 request latency and
//      the server's CPU time per registration (utime+stime from /proc);
//  (b) wake-up latency of 1,000 blocking watchers
//      (GET /v1/health/service/NAME?index=N&wait=60s) after one registration
//      of that service, per watcher from the write's response and from just
//      before the write was sent; plus 100 watchers parked on another service
//      that must not wake (per-service indexes).
//
// No Consul binary exists on this machine (Debian does not package it), so
// there is no same-run peer for these figures; the output says so.
//
// Results: a table on stdout and bench/results/catalog.json.

import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { removeDir, startServer, type ServerProcess } from '../test/helpers/server.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const RESULTS_FILE = join(RESULTS_DIR, 'catalog.json');

const REGISTER_CONCURRENCIES = [1, 16, 64];
const REGISTER_SECONDS = 4;
const REGISTER_MAX_PER_RUN = 100_000;
const WARMUP_REGISTRATIONS = 300;
const WATCHERS = 1000;
const OTHER_WATCHERS = 100;
const WATCH_ROUNDS = 5;
const WATCHED_SERVICE = 'bench-watched';
const OTHER_SERVICE = 'bench-other';
/** How long parked watchers must stay parked before the change is made. */
const PARKED_CHECK_MS = 300;
/** How long after the last woken watcher the other service's watchers must still be parked. */
const ISOLATION_CHECK_MS = 300;
const WAKE_TIMEOUT_MS = 20_000;
const PEER_NOTE =
  'no same-run peer: there is no Consul binary on this machine (Debian has no consul package), so these figures stand alone';

// ---- small HTTP client over node:http keep-alive agents ------------------------

interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when the response head arrived. */
  arrivedAt: number;
}

interface Target {
  host: string;
  port: number;
  token: string;
}

function httpCall(
  target: Target,
  agent: Agent,
  method: string,
  path: string,
  body?: string,
  hooks?: { sent?: () => void; arrived?: (at: number) => void; signal?: AbortSignal },
): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    const headers: Record<string, string | number> = { 'X-Consul-Token': target.token };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = request(
      { host: target.host, port: target.port, method, path, agent, headers, ...(hooks?.signal ? { signal: hooks.signal } : {}) },
      (res) => {
        const arrivedAt = performance.now();
        hooks?.arrived?.(arrivedAt);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), arrivedAt }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (hooks?.sent) req.on('finish', hooks.sent);
    req.end(body);
  });
}

async function expectOk(result: Promise<HttpResult>, what: string): Promise<HttpResult> {
  const r = await result;
  if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status}: ${r.body.trim()}`);
  return r;
}

function consulIndex(r: HttpResult, what: string): number {
  const raw = r.headers['x-consul-index'];
  const index = Number(Array.isArray(raw) ? raw[0] : raw);
  if (!Number.isSafeInteger(index) || index < 1) throw new Error(`${what}: no valid X-Consul-Index (${String(raw)})`);
  return index;
}

// ---- figures ----------------------------------------------------------------

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

interface Distribution {
  p50: number;
  p99: number;
  max: number;
  min: number;
}

function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: roundTo(sorted[0] ?? NaN), p50: roundTo(percentile(sorted, 50)), p99: roundTo(percentile(sorted, 99)), max: roundTo(sorted[sorted.length - 1] ?? NaN) };
}

const roundTo = (x: number, digits = 2): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** utime+stime of a process, in milliseconds. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

// ---- (a) registrations ------------------------------------------------------

let instanceCounter = 0;

/** A distinct service instance (with a passing check) on one of 500 nodes. */
function registrationBody(service: string, node: string, address: string): string {
  const n = instanceCounter++;
  const id = `${service}-${n}`;
  return JSON.stringify({
    Node: node,
    Address: address,
    Service: { ID: id, Service: service, Address: address, Port: 20_000 + (n % 10_000), Tags: ['bench', `v${n % 3}`], Meta: { n: String(n) } },
    Check: { CheckID: `service:${id}`, Name: `${service} alive`, Status: 'passing', ServiceID: id },
  });
}

function benchRegistration(): string {
  const k = instanceCounter % 500;
  // 198.18.0.0/15 is reserved for benchmarking (RFC 2544); these are catalog data only.
  return registrationBody(`bench-svc-${instanceCounter % 50}`, `bench-node-${k}`, `198.18.${k >> 8}.${k & 255}`);
}

interface RegistrationFigures {
  concurrency: number;
  /** Instances in the catalog when the run ended. */
  catalogInstances: number;
  requests: number;
  seconds: number;
  perSecond: number;
  latencyMs: Distribution;
  serverCpuUsPerRequest: number;
}

async function registrations(target: Target, serverPid: number, concurrency: number, seconds: number, maxRequests: number): Promise<RegistrationFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let issued = 0;
  const cpuBefore = cpuMs(serverPid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (issued < maxRequests && performance.now() < deadline) {
      issued++;
      const body = benchRegistration();
      const t0 = performance.now();
      const r = await httpCall(target, agent, 'PUT', '/v1/catalog/register', body);
      if (r.status !== 200 || r.body.trim() !== 'true') throw new Error(`register: HTTP ${r.status}: ${r.body.trim()}`);
      latencies.push(r.arrivedAt - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuMs(serverPid) - cpuBefore;
  return {
    concurrency,
    catalogInstances: instanceCounter,
    requests: latencies.length,
    seconds: roundTo(elapsed, 3),
    perSecond: Math.round(latencies.length / elapsed),
    latencyMs: distribution(latencies),
    serverCpuUsPerRequest: Math.round((cpu * 1000) / latencies.length),
  };
}

// ---- (b) blocking watchers --------------------------------------------------

interface Watcher {
  sent: boolean;
  arrivedAt: number | undefined;
  done: Promise<HttpResult>;
  abort: AbortController;
}

function park(target: Target, agent: Agent, service: string, index: number, count: number): Watcher[] {
  const out: Watcher[] = [];
  for (let i = 0; i < count; i++) {
    const abort = new AbortController();
    const w: Watcher = { sent: false, arrivedAt: undefined, abort, done: undefined as unknown as Promise<HttpResult> };
    w.done = httpCall(target, agent, 'GET', `/v1/health/service/${service}?index=${index}&wait=60s`, undefined, {
      sent: () => (w.sent = true),
      arrived: (at) => (w.arrivedAt = at),
      signal: abort.signal,
    });
    // Failures are examined where the results are used; never an unhandled rejection.
    w.done.catch(() => {});
    out.push(w);
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Waits until every watcher's request is on the wire and the server has had
 * time to read them all (a plain request answered after them, then a pause),
 * polling all along that none of them has come back.
 */
async function assertParked(target: Target, agent: Agent, watchers: readonly Watcher[], what: string): Promise<void> {
  const early = () => watchers.filter((w) => w.arrivedAt !== undefined).length;
  await until(() => watchers.every((w) => w.sent) || early() > 0, 20_000, `${what}: all requests sent`);
  await expectOk(httpCall(target, agent, 'GET', '/v1/status/leader'), 'status/leader');
  const deadline = performance.now() + PARKED_CHECK_MS;
  while (performance.now() < deadline) {
    if (early() > 0) break;
    await sleep(20);
  }
  if (early() > 0) {
    const r = await watchers.find((w) => w.arrivedAt !== undefined)!.done.catch((e: Error) => e);
    const detail = r instanceof Error ? r.message : `HTTP ${r.status}, X-Consul-Index ${String(r.headers['x-consul-index'])}`;
    throw new Error(`${what}: ${early()} of ${watchers.length} blocking queries returned before any change (${detail})`);
  }
}

interface WakeRound {
  round: number;
  /** Raw samples, for the figures pooled over all rounds (not written to the JSON). */
  samples: { fromWriteResponse: number[]; fromWriteStart: number[] };
  watchers: number;
  woken: number;
  indexBefore: number;
  indexAfter: number;
  writeMs: number;
  fromWriteResponseMs: Distribution;
  fromWriteStartMs: Distribution;
  /** Watchers whose answer arrived before the write's own response did. */
  beforeWriteResponse: number;
  otherServiceWoken: number;
}

async function wakeRound(
  target: Target,
  writer: Agent,
  watchAgent: Agent,
  round: number,
  index: number,
  others: readonly Watcher[],
  expectInstances: number,
): Promise<WakeRound> {
  const watchers = park(target, watchAgent, WATCHED_SERVICE, index, WATCHERS);
  await assertParked(target, writer, [...watchers, ...others], `round ${round}`);

  const body = registrationBody(WATCHED_SERVICE, `bench-watched-node-${round}`, `198.18.3.${(10 + round) & 255}`);
  const writeStart = performance.now();
  const write = await expectOk(httpCall(target, writer, 'PUT', '/v1/catalog/register', body), 'register watched instance');
  const writeEnd = write.arrivedAt;

  let timer: NodeJS.Timeout | undefined;
  const results = await Promise.race([
    Promise.allSettled(watchers.map((w) => w.done)),
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), WAKE_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (!results) {
    const woken = watchers.filter((w) => w.arrivedAt !== undefined).length;
    for (const w of watchers) w.abort.abort();
    throw new Error(`round ${round}: only ${woken} of ${WATCHERS} watchers woke within ${WAKE_TIMEOUT_MS} ms of the change`);
  }
  let indexAfter = 0;
  for (const [i, settled] of results.entries()) {
    if (settled.status === 'rejected') throw new Error(`round ${round}: watcher ${i} failed: ${(settled.reason as Error).message}`);
    const r = settled.value;
    if (r.status !== 200) throw new Error(`round ${round}: watcher ${i}: HTTP ${r.status}: ${r.body.trim()}`);
    const after = consulIndex(r, `round ${round} watcher ${i}`);
    if (after <= index) throw new Error(`round ${round}: watcher ${i} returned index ${after}, not past ${index}`);
    const instances = (JSON.parse(r.body) as unknown[]).length;
    if (instances !== expectInstances) throw new Error(`round ${round}: watcher ${i} saw ${instances} instances, expected ${expectInstances}`);
    if (indexAfter !== 0 && after !== indexAfter) throw new Error(`round ${round}: watchers disagree on the index (${after} vs ${indexAfter})`);
    indexAfter = after;
  }
  // Give anything wrongly woken time to arrive, then look at the other service's watchers.
  await sleep(ISOLATION_CHECK_MS);
  const arrivals = watchers.map((w) => w.arrivedAt!);
  return {
    round,
    samples: { fromWriteResponse: arrivals.map((t) => t - writeEnd), fromWriteStart: arrivals.map((t) => t - writeStart) },
    watchers: WATCHERS,
    woken: arrivals.length,
    indexBefore: index,
    indexAfter,
    writeMs: roundTo(writeEnd - writeStart),
    fromWriteResponseMs: distribution(arrivals.map((t) => t - writeEnd)),
    fromWriteStartMs: distribution(arrivals.map((t) => t - writeStart)),
    beforeWriteResponse: arrivals.filter((t) => t < writeEnd).length,
    otherServiceWoken: others.filter((w) => w.arrivedAt !== undefined).length,
  };
}

// ---- the run ----------------------------------------------------------------

function pad(cells: readonly (string | number)[], widths: readonly number[]): string {
  return cells.map((c, i) => String(c).padStart(widths[i] ?? 8)).join('  ');
}

export async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshctl-bench-catalog-'));
  let server: ServerProcess | undefined;
  const agents: Agent[] = [];
  // One cleanup, shared: a signal may start it while main() is still running,
  // and main()'s own finally must then wait for that same cleanup to finish.
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const a of agents) a.destroy();
      try {
        await server?.stop();
      } finally {
        removeDir(dataDir);
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const benchStart = performance.now();
  try {
    server = await startServer({ dataDir, host: '127.0.0.1' });
    const target: Target = { host: '127.0.0.1', port: server.port, token: server.token };
    const serverPid = server.proc.pid!;
    const writer = new Agent({ keepAlive: true, maxSockets: 4 });
    const watchAgent = new Agent({ keepAlive: true, maxSockets: Infinity });
    agents.push(writer, watchAgent);

    console.log(`catalog benchmark: meshctl server at ${server.url}, durable store in ${dataDir} (SQLite WAL, synchronous=FULL)`);
    console.log(`machine: ${availableParallelism()} CPU (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`);
    console.log(`peer: ${PEER_NOTE}`);

    // (a) registrations, after a short warm-up of the server's hot paths.
    await registrations(target, serverPid, 16, 10, WARMUP_REGISTRATIONS);
    const reg: RegistrationFigures[] = [];
    for (const c of REGISTER_CONCURRENCIES) {
      reg.push(await registrations(target, serverPid, c, REGISTER_SECONDS, REGISTER_MAX_PER_RUN));
    }
    const catalogSize = instanceCounter;

    console.log('');
    console.log(`(a) PUT /v1/catalog/register, distinct instances (service + check) over 500 nodes, ${REGISTER_SECONDS} s per concurrency, keep-alive`);
    const wa = [11, 9, 8, 8, 8, 8, 14, 14];
    console.log(pad(['concurrency', 'requests', 'reg/s', 'p50 ms', 'p99 ms', 'max ms', 'server CPU/req', 'catalog after'], wa));
    for (const r of reg) {
      console.log(
        pad([r.concurrency, r.requests, r.perSecond, r.latencyMs.p50, r.latencyMs.p99, r.latencyMs.max, `${r.serverCpuUsPerRequest} µs`, r.catalogInstances], wa),
      );
    }

    // (b) watchers: one instance of the watched service and one of the other to start with.
    await expectOk(httpCall(target, writer, 'PUT', '/v1/catalog/register', registrationBody(WATCHED_SERVICE, 'bench-watched-node-0', '198.18.3.1')), 'seed watched');
    await expectOk(httpCall(target, writer, 'PUT', '/v1/catalog/register', registrationBody(OTHER_SERVICE, 'bench-other-node-0', '198.18.3.2')), 'seed other');
    const otherIndex = consulIndex(await expectOk(httpCall(target, writer, 'GET', `/v1/health/service/${OTHER_SERVICE}`), 'read other'), 'other');
    let index = consulIndex(await expectOk(httpCall(target, writer, 'GET', `/v1/health/service/${WATCHED_SERVICE}`), 'read watched'), 'watched');
    const others = park(target, watchAgent, OTHER_SERVICE, otherIndex, OTHER_WATCHERS);
    const rounds: WakeRound[] = [];
    for (let round = 1; round <= WATCH_ROUNDS; round++) {
      const result = await wakeRound(target, writer, watchAgent, round, index, others, round + 1);
      rounds.push(result);
      index = result.indexAfter;
    }
    const otherWoken = others.filter((w) => w.arrivedAt !== undefined).length;
    for (const w of others) w.abort.abort();
    await Promise.allSettled(others.map((w) => w.done));

    console.log('');
    console.log(
      `(b) ${WATCHERS} blocking GET /v1/health/service/${WATCHED_SERVICE}?index=N&wait=60s, then one registration of it ` +
        `(catalog holds ${catalogSize} instances); wake latency per watcher, ms`,
    );
    const pooled = {
      watchers: rounds.reduce((n, r) => n + r.woken, 0),
      fromWriteResponseMs: distribution(rounds.flatMap((r) => r.samples.fromWriteResponse)),
      fromWriteStartMs: distribution(rounds.flatMap((r) => r.samples.fromWriteStart)),
      beforeWriteResponse: rounds.reduce((n, r) => n + r.beforeWriteResponse, 0),
    };
    const wb = [5, 9, 8, 8, 8, 8, 9, 9, 9, 11];
    console.log(pad(['round', 'woken', 'write ms', 'resp p50', 'resp p99', 'resp max', 'start p50', 'start p99', 'start max', 'before resp'], wb));
    const row = (label: string | number, woken: string, write: string | number, r: Pick<WakeRound, 'fromWriteResponseMs' | 'fromWriteStartMs' | 'beforeWriteResponse'>) =>
      console.log(
        pad(
          [
            label,
            woken,
            write,
            r.fromWriteResponseMs.p50,
            r.fromWriteResponseMs.p99,
            r.fromWriteResponseMs.max,
            r.fromWriteStartMs.p50,
            r.fromWriteStartMs.p99,
            r.fromWriteStartMs.max,
            r.beforeWriteResponse,
          ],
          wb,
        ),
      );
    for (const r of rounds) row(r.round, `${r.woken}/${r.watchers}`, r.writeMs, r);
    row('all', `${pooled.watchers}/${WATCHERS * WATCH_ROUNDS}`, '', pooled);
    console.log("  resp = from the write's response arriving; start = from just before the write was sent (both as this client saw them);");
    console.log("  before resp = watchers whose answer arrived before the write's own response (counted negative in resp)");
    console.log(
      `  per-service indexes: ${OTHER_WATCHERS} watchers parked on ${OTHER_SERVICE} across all ${WATCH_ROUNDS} rounds, woken: ${otherWoken} ` +
        `(${otherWoken === 0 ? 'as it should be' : 'WRONG: they should not wake'})`,
    );

    const totalSeconds = roundTo((performance.now() - benchStart) / 1000, 1);
    const results = {
      benchmark: 'catalog',
      date: new Date().toISOString(),
      machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model.trim() ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
      server: { address: server.address, store: 'sqlite (node:sqlite), WAL, synchronous=FULL, group commit', dataDir: 'temp dir on local disk (removed afterwards)' },
      peer: { available: false, note: PEER_NOTE },
      registrations: {
        what: 'PUT /v1/catalog/register of distinct instances (service + check) over 500 nodes, management token, keep-alive',
        secondsPerConcurrency: REGISTER_SECONDS,
        runs: reg,
      },
      watchers: {
        what: `${WATCHERS} concurrent GET /v1/health/service/${WATCHED_SERVICE}?index=N&wait=60s parked, then one registration of that service`,
        catalogInstances: catalogSize,
        rounds: rounds.map(({ samples: _samples, ...figures }) => figures),
        allRounds: pooled,
      },
      isolation: { otherService: OTHER_SERVICE, watchers: OTHER_WATCHERS, rounds: WATCH_ROUNDS, woken: otherWoken },
      totalSeconds,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    console.log('');
    console.log(`wrote bench/results/catalog.json (${totalSeconds} s in all)`);
    if (otherWoken !== 0) throw new Error(`${otherWoken} watchers of ${OTHER_SERVICE} were woken by changes to ${WATCHED_SERVICE}`);
  } catch (error) {
    if (server) {
      const out = server.output().trim().split('\n').slice(-20).join('\n');
      if (out) console.error(`server output (last lines):\n${out}`);
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
