// Propagation benchmark: how long a route takes to reach every agent. A real
// `meshctl server` (durable store in a temp dir) and 100 simulated agents in
// this process, each a keep-alive connection holding the blocking query every
// agent holds (GET /v1/mesh/config?index=N&wait=60s), applying each answer as
// the agent does: parse it, find the destination's service-router entry.
// Each round runs the real CLI, `meshctl route add web --name rN …`, and
// measures from the moment that process has exited (the operator's command
// returned) to the moment each watcher holds an answer with route rN: the
// last of the 100 is the round's propagation time. p50 and p99 over the
// rounds; target p99 ≤ 500 ms.
//
// No Consul binary exists on this machine, so there is no same-run peer; the
// output says so.
//
// Results: a table on stdout and bench/results/propagation.json.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MESHCTL, removeDir, startServer, type ServerProcess } from '../test/helpers/server.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const AGENTS = 100;
const ROUNDS = 30;
const DESTINATION = 'web';
const TARGET_P99_MS = 500;

interface Watcher {
  index: number;
  /** Route names seen so far, with performance.now() when first seen. */
  seen: Map<string, number>;
  stopped: boolean;
}

function get(server: ServerProcess, agent: Agent, path: string): Promise<{ index: number; body: string }> {
  return new Promise((resolve, reject) => {
    const [host, port] = [server.address.slice(0, server.address.lastIndexOf(':')), Number(server.address.slice(server.address.lastIndexOf(':') + 1))];
    const req = request({ host, port, path, agent, headers: { 'x-consul-token': server.token } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve({ index: Number(res.headers['x-consul-index'] ?? 0), body }) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One simulated agent: the blocking watch of the mesh config, applied as it arrives. */
async function watch(server: ServerProcess, watcher: Watcher): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let index = 0;
  while (!watcher.stopped) {
    const answer = await get(server, agent, `/v1/mesh/config?index=${index}&wait=60s`).catch(() => undefined);
    if (!answer) continue;
    const now = performance.now();
    index = answer.index;
    const entries = (JSON.parse(answer.body) as { Entries: Array<{ Kind: string; Name: string; Config: { Routes?: Array<{ Name: string }> } }> }).Entries;
    for (const route of entries.find((e) => e.Kind === 'service-router' && e.Name === DESTINATION)?.Config.Routes ?? []) {
      if (!watcher.seen.has(route.Name)) watcher.seen.set(route.Name, now);
    }
  }
  agent.destroy();
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;

export async function main(): Promise<void> {
  const server = await startServer();
  try {
    // The destination must exist before a route may name it.
    const register = spawnSync('curl', ['-sf', '-X', 'PUT', '-H', `x-consul-token: ${server.token}`, '--data', JSON.stringify({ Node: 'bench-node', Address: '127.0.0.1', Service: { Service: DESTINATION, Port: 8080 } }), `http://${server.address}/v1/catalog/register`]);
    if (register.status !== 0) throw new Error(`cannot register ${DESTINATION}: ${register.stderr.toString()}`);
    const watchers: Watcher[] = Array.from({ length: AGENTS }, (_, index) => ({ index, seen: new Map(), stopped: false }));
    const running = watchers.map((w) => watch(server, w));
    const env = { ...process.env, MESHCTL_SERVER: server.address, MESHCTL_TOKEN: server.token };
    const rounds: Array<{ round: number; lastMs: number; p50Ms: number; cliMs: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const name = `r${round}`;
      const t0 = performance.now();
      const cli = spawnSync(MESHCTL, ['route', 'add', DESTINATION, '--name', name, '--path-prefix', `/p${round}`, '--to', DESTINATION], { env, encoding: 'utf8' });
      const returned = performance.now();
      if (cli.status !== 0) throw new Error(`meshctl route add failed: ${cli.stderr}`);
      const deadline = Date.now() + 10_000;
      while (watchers.some((w) => !w.seen.has(name))) {
        if (Date.now() > deadline) throw new Error(`round ${round}: ${watchers.filter((w) => !w.seen.has(name)).length} watchers never saw ${name}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const after = watchers.map((w) => (w.seen.get(name) as number) - returned).sort((a, b) => a - b);
      rounds.push({ round, lastMs: after[after.length - 1] as number, p50Ms: quantile(after, 0.5), cliMs: returned - t0 });
    }
    for (const w of watchers) w.stopped = true;
    const last = rounds.map((r) => r.lastMs).sort((a, b) => a - b);
    const figures = {
      agents: AGENTS,
      rounds: ROUNDS,
      lastAgentMs: { p50: quantile(last, 0.5), p99: quantile(last, 0.99), max: last[last.length - 1] },
      medianAgentMs: { p50: quantile(rounds.map((r) => r.p50Ms).sort((a, b) => a - b), 0.5) },
      cliMs: { p50: quantile(rounds.map((r) => r.cliMs).sort((a, b) => a - b), 0.5) },
      target: { p99Ms: TARGET_P99_MS, pass: quantile(last, 0.99) <= TARGET_P99_MS },
      machine: `${cpus().length} CPU (${cpus()[0]?.model ?? 'unknown'})`,
      peer: 'no same-run peer: there is no Consul binary on this machine (Debian has no consul package)',
    };
    console.log(`propagation: ${AGENTS} simulated agents (blocking watches of /v1/mesh/config) against a real server; ${ROUNDS} rounds of \`meshctl route add\``);
    console.log(`  from \`meshctl route add\` returning to the LAST agent applying the route: p50 ${figures.lastAgentMs.p50.toFixed(1)} ms, p99 ${figures.lastAgentMs.p99.toFixed(1)} ms, max ${figures.lastAgentMs.max?.toFixed(1)} ms`);
    console.log(`  to the median agent: p50 ${figures.medianAgentMs.p50.toFixed(1)} ms; the CLI itself took p50 ${figures.cliMs.p50.toFixed(0)} ms (process start included)`);
    console.log(`  ${figures.target.pass ? 'PASS' : 'MISS'}  p99 ≤ ${TARGET_P99_MS} ms`);
    console.log(`  ${figures.peer}`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'propagation.json'), `${JSON.stringify({ ...figures, rounds }, null, 2)}\n`);
    console.log('wrote bench/results/propagation.json');
    // The watchers' held requests end with the server.
    void Promise.allSettled(running);
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
}
