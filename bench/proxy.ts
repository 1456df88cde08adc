// npm run bench -- proxy: the meshctl proxy beside HAProxy and nginx from
// Debian and a direct connection, in the same run, on loopback: HTTP/1.1
// keep-alive, tiny responses (method: /work/shared/reference/perf.md).
//
// A request through the mesh crosses two proxy stages (the caller's outbound,
// the callee's inbound); here both run in one meshctl process, so it is
// compared with HAProxy one hop (the baseline) and with two chained
// HAProxy processes (the same work as the mesh path).
//
// Figures: requests/s with wrk (twice), requests per core and CPU µs per
// request of the proxy process(es) from /proc (the steadiest figures on a
// shared machine), added latency p50/p99 at a fixed 1,000 req/s from an
// open-loop generator (measured from each request's scheduled time, so a
// stall is not hidden), and RSS at idle and under load.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/proxy-bed.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const WRK_SECONDS = 5;
const RATE = 1000;
const RATE_SECONDS = 8;
/** V8 flags for the proxy process: none by default, as the agent runs; MESHCTL_BENCH_V8='--max-semi-space-size=2' trades CPU for RSS. */
const V8_FLAGS = (process.env.MESHCTL_BENCH_V8 ?? '').split(' ').filter(Boolean);

interface Target {
  name: string;
  port: number;
  pids: number[];
}

interface Figures {
  name: string;
  rps: number[];
  rpsPerCore: number;
  cpuUsPerRequest: number;
  p50AddedMs: number;
  p99AddedMs: number;
  rssIdleMb: number;
  rssLoadMb: number;
}

const procs: ChildProcess[] = [];
let dir = '';

function need(binary: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${binary} is missing: apt-get install -y ${pkg}`);
  }
}

function start(command: string, args: string[], readyText?: string): Promise<ChildProcess> {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d));
  proc.stderr?.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve, reject) => {
    if (!readyText) return setTimeout(() => (proc.exitCode === null ? resolve(proc) : reject(new Error(`${command} exited: ${out}`))), 300);
    const timer = setTimeout(() => reject(new Error(`${command} not ready: ${out}`)), 10_000);
    proc.stdout?.on('data', () => {
      if (out.includes(readyText)) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.once('exit', () => reject(new Error(`${command} exited: ${out}`)));
  });
}

async function waitForHttp(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing answers 200 on ${port}`);
}

const cpuTicks = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

function wrk(port: number, seconds: number): { rps: number; requests: number } {
  const out = execFileSync('wrk', ['-t1', '-c32', `-d${seconds}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0) };
}

/** Open loop: one request every 1/rate s on keep-alive connections, latency from its scheduled time. */
async function openLoop(port: number, rate: number, seconds: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = rate * seconds;
  const latencies: number[] = [];
  const start = performance.now() + 100;
  await new Promise<void>((resolve) => {
    let done = 0;
    let sent = 0;
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1000) / rate <= now) {
        const scheduled = start + (sent * 1000) / rate;
        sent++;
        const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - scheduled);
            if (++done === total) resolve();
          });
        });
        req.on('error', () => {
          latencies.push(Infinity);
          if (++done === total) resolve();
        });
        req.end();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    setTimeout(tick, 100);
  });
  agent.destroy();
  return latencies.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

async function measure(target: Target, direct: { p50: number; p99: number } | undefined): Promise<Figures & { p50: number; p99: number }> {
  const rssIdle = target.pids.reduce((sum, pid) => sum + rssMb(pid), 0);
  wrk(target.port, 1); // warm-up
  const rps: number[] = [];
  let cpuUs = 0;
  let requests = 0;
  let wall = 0;
  let rssLoad = 0;
  for (let run = 0; run < 2; run++) {
    const before = target.pids.map(cpuTicks);
    const t0 = performance.now();
    const sampler = setInterval(() => (rssLoad = Math.max(rssLoad, target.pids.reduce((sum, pid) => sum + rssMb(pid), 0))), 500);
    const result = await new Promise<{ rps: number; requests: number }>((resolve) => setImmediate(() => resolve(wrk(target.port, WRK_SECONDS))));
    clearInterval(sampler);
    rssLoad = Math.max(rssLoad, target.pids.reduce((sum, pid) => sum + rssMb(pid), 0));
    wall += (performance.now() - t0) / 1000;
    cpuUs += target.pids.reduce((sum, pid, i) => sum + ((cpuTicks(pid) - (before[i] as number)) * 1e6) / CLK_TCK, 0);
    requests += result.requests;
    rps.push(result.rps);
  }
  const latencies = await openLoop(target.port, RATE, RATE_SECONDS);
  const p50 = pct(latencies, 50);
  const p99 = pct(latencies, 99);
  const cores = cpuUs / 1e6 / wall;
  const meanRps = (rps[0]! + rps[1]!) / 2;
  return {
    name: target.name,
    rps,
    rpsPerCore: target.pids.length ? meanRps / cores : NaN,
    cpuUsPerRequest: target.pids.length ? cpuUs / requests : NaN,
    p50,
    p99,
    p50AddedMs: direct ? p50 - direct.p50 : 0,
    p99AddedMs: direct ? p99 - direct.p99 : 0,
    rssIdleMb: rssIdle,
    rssLoadMb: rssLoad,
  };
}

function haproxyConfig(listen: number, to: number): string {
  return `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${listen}
  default_backend be
backend be
  server app 127.0.0.1:${to}
`;
}

export async function main(): Promise<void> {
  need('nginx', 'nginx');
  need('haproxy', 'haproxy');
  need('wrk', 'wrk');
  dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-proxy-'));
  const cleanup = () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const [nginxPort, h1, h2a, h2b, meshPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    for (const sub of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/client; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n  keepalive_requests 1000000;\n  server { listen 127.0.0.1:${nginxPort}; location / { return 200 "ok"; } }\n}\n`,
    );
    await start('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir]);
    writeFileSync(join(dir, 'h1.cfg'), haproxyConfig(h1!, nginxPort!));
    writeFileSync(join(dir, 'h2b.cfg'), haproxyConfig(h2b!, nginxPort!));
    writeFileSync(join(dir, 'h2a.cfg'), haproxyConfig(h2a!, h2b!));
    const hap1 = await start('haproxy', ['-f', join(dir, 'h1.cfg'), '-db']);
    const hap2b = await start('haproxy', ['-f', join(dir, 'h2b.cfg'), '-db']);
    const hap2a = await start('haproxy', ['-f', join(dir, 'h2a.cfg'), '-db']);
    const mesh = await start(process.execPath, [...V8_FLAGS, join(ROOT, 'bench/proxy-process.mjs'), String(nginxPort), String(meshPort)], 'ready');
    for (const port of [nginxPort!, h1!, h2a!, meshPort!]) await waitForHttp(port);

    const direct = await measure({ name: 'direct to nginx', port: nginxPort!, pids: [] }, undefined);
    const base = { p50: direct.p50, p99: direct.p99 };
    const one = await measure({ name: 'HAProxy, 1 hop', port: h1!, pids: [hap1.pid!] }, base);
    const two = await measure({ name: 'HAProxy, 2 hops', port: h2a!, pids: [hap2a.pid!, hap2b.pid!] }, base);
    const ours = await measure({ name: 'meshctl (2 stages)', port: meshPort!, pids: [mesh.pid!] }, base);
    const rows = [direct, one, two, ours];

    const f = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
    console.log(`\nproxy: HTTP/1.1 keep-alive, 2-byte responses, loopback; wrk -t1 -c32 -d${WRK_SECONDS}s twice; open loop at ${RATE} req/s for ${RATE_SECONDS} s\n`);
    console.log('target               req/s (2 runs)     req/s/core  CPU µs/req  p50+ ms  p99+ ms  RSS idle/load MB');
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(20)} ${r.rps.map((x) => f(x)).join(' / ').padEnd(18)} ${f(r.rpsPerCore).padStart(10)}  ${f(r.cpuUsPerRequest, 1).padStart(10)}  ${f(r.p50AddedMs, 2).padStart(7)}  ${f(r.p99AddedMs, 2).padStart(7)}  ${f(r.rssIdleMb, 1)}/${f(r.rssLoadMb, 1)}`,
      );
    }
    const targets = [
      { what: 'req/s per core ≥ 0.6× HAProxy 1 hop', value: ours.rpsPerCore / one.rpsPerCore, pass: ours.rpsPerCore / one.rpsPerCore >= 0.6, unit: '×' },
      { what: 'req/s per core vs HAProxy 2 hops (same work)', value: ours.rpsPerCore / two.rpsPerCore, pass: ours.rpsPerCore / two.rpsPerCore >= 0.6, unit: '×' },
      { what: 'CPU per request ≤ 2× HAProxy 1 hop', value: ours.cpuUsPerRequest / one.cpuUsPerRequest, pass: ours.cpuUsPerRequest / one.cpuUsPerRequest <= 2, unit: '×' },
      { what: 'CPU per request vs HAProxy 2 hops (same work)', value: ours.cpuUsPerRequest / two.cpuUsPerRequest, pass: ours.cpuUsPerRequest / two.cpuUsPerRequest <= 2, unit: '×' },
      { what: 'p99 added latency ≤ 1 ms at 1,000 req/s', value: ours.p99AddedMs, pass: ours.p99AddedMs <= 1, unit: ' ms' },
      { what: 'RSS under load ≤ 60 MB', value: ours.rssLoadMb, pass: ours.rssLoadMb <= 60, unit: ' MB' },
    ];
    console.log('\ntargets (meshctl):');
    for (const t of targets) console.log(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.what}: ${t.value.toFixed(2)}${t.unit}`);
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/proxy.json'), `${JSON.stringify({ when: new Date().toISOString(), rows, targets }, null, 2)}\n`);
  } finally {
    cleanup();
  }
}
