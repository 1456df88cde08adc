// npm run bench -- handshake: what a new mutual-TLS connection between
// proxies costs, as new connections per second and server CPU per handshake,
// for meshctl's inbound listener beside HAProxy doing the same termination,
// in the same run, on loopback.
//
// Servers (each its own process, so its CPU is read from /proc/<pid>/stat):
//  - meshctl: bench/proxy-process.ts (dist/ when current, as bench/proxy.ts
//    runs it); its inbound listener, which terminates the hop's mTLS
//    (TLS 1.3, client certificate required, SNI picks the leaf), reads the
//    hop preamble and hands the request to its inbound HTTP stage → nginx;
//  - HAProxy 2.6, nbthread 1: `bind … ssl crt app.pem ca-file ca.pem verify
//    required alpn http/1.1 ssl-min-ver TLSv1.3` in front of the same nginx,
//    with the same CA and `app` leaf (RSA-2048, made by the meshctl process).
//
// The client is the same for both: worker threads, each keeping a few
// connections in flight; a connection presents the `app` leaf, SNI `app`,
// ALPN http/1.1, TLS 1.3, verifies the server's chain, never offers a session
// (every handshake is a full one: checked with isSessionReused()), sends one
// GET (after `MESH/1 app http app\r\n` for meshctl), reads the 200 and closes.
// Rounds of a few seconds each after a short warm-up, the two targets
// interleaved so drift on a shared machine hits both alike.
//
// Results: a table on stdout and bench/results/handshake.json. Every process
// and the temp dir are removed at the end, on failure, and on SIGINT/SIGTERM.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, type TLSSocket } from 'node:tls';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CLK_TCK, ROOT, children, freePort, launch, machineBusySeconds, nginxConfig, pct, stopChild, type Child } from './lib/processes.ts';
import { haproxyConfig } from './lib/haproxy.ts';

const RESULTS_FILE = join(ROOT, 'bench', 'results', 'handshake.json');
const PROXY_PROCESS = join(ROOT, 'bench', 'proxy-process.ts');
const WORKERS = 2;
const CONCURRENCY_PER_WORKER = 4;
const ROUNDS = 3;
const ROUND_SECONDS = 4;
const WARMUP_SECONDS = 0.5;
const PREAMBLE = 'MESH/1 app http app\r\n';
const REQUEST = 'GET / HTTP/1.1\r\nHost: app\r\nUser-Agent: meshctl-bench\r\n\r\n';


// ---- the client (runs in worker threads) ------------------------------------------

interface ClientJob {
  kind: 'handshake-client';
  port: number;
  preamble: string;
  certPem: string;
  keyPem: string;
  caPem: string;
  concurrency: number;
  /** Connections started before this moment (performance.timeOrigin-relative epoch ms) are warm-up. */
  measureFromEpochMs: number;
  untilEpochMs: number;
}

interface ClientTally {
  ok: number;
  failed: number;
  resumed: number;
  /** First failure messages, for the report. */
  errors: string[];
  /** Connect to 200, ms, for the measured connections. */
  latencies: number[];
}

/** One connection: full mTLS handshake, preamble, one GET, the 200, close. Resolves with whether the session was resumed. */
function oneConnection(job: ClientJob): Promise<{ resumed: boolean }> {
  return new Promise((resolve, reject) => {
    let done = false;
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port: job.port,
      servername: 'app',
      ALPNProtocols: ['http/1.1'],
      minVersion: 'TLSv1.3',
      cert: job.certPem,
      key: job.keyPem,
      ca: job.caPem,
      // The chain is verified against the mesh CA; the name is a SPIFFE URI, not a host name.
      checkServerIdentity: () => undefined,
    });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 5 s')), 5000);
    let head = '';
    socket.once('secureConnect', () => socket.write(job.preamble + REQUEST));
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (!done && head.includes('\r\n\r\n')) {
        done = true;
        clearTimeout(timer);
        const status = head.slice(9, 12);
        const resumed = socket.isSessionReused();
        socket.destroy();
        if (status === '200') resolve({ resumed });
        else reject(new Error(`HTTP ${status}: ${head.split('\r\n')[0]}`));
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (!done) {
        done = true;
        reject(e);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!done) {
        done = true;
        reject(new Error('closed before a response'));
      }
    });
  });
}

async function runClient(job: ClientJob): Promise<ClientTally> {
  const tally: ClientTally = { ok: 0, failed: 0, resumed: 0, errors: [], latencies: [] };
  const now = () => performance.timeOrigin + performance.now();
  const loop = async () => {
    while (now() < job.untilEpochMs) {
      const started = now();
      const measured = started >= job.measureFromEpochMs;
      try {
        const r = await oneConnection(job);
        if (!measured) continue;
        tally.ok++;
        if (r.resumed) tally.resumed++;
        tally.latencies.push(now() - started);
      } catch (error) {
        if (!measured) continue;
        tally.failed++;
        if (tally.errors.length < 3) tally.errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  return tally;
}

if (!isMainThread && (workerData as ClientJob | undefined)?.kind === 'handshake-client') {
  void runClient(workerData as ClientJob).then((tally) => parentPort!.postMessage(tally));
}

// ---- processes ------------------------------------------------------------------


const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
/** Waits until a plain-TCP port accepts connections. */
async function waitForPort(port: number, child: Child): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    if (!child.running()) throw new Error(`${child.name} exited:\n${child.output()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connectTcp({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await sleep(50);
  }
  throw new Error(`${child.name} does not listen on ${port}:\n${child.output()}`);
}

/** dist/ when it holds a build of proxy.ts newer than its source (npm run bench builds first), as bench/proxy.ts decides. */
function meshctlScript(dir: string): { script: string; from: 'dist' | 'src' } {
  const built = join(ROOT, 'dist', 'proxy', 'proxy.js');
  const forced = process.env.MESHCTL_BENCH_FROM;
  const distOk = existsSync(built) && statSync(built).mtimeMs + 1 >= statSync(join(ROOT, 'src', 'proxy', 'proxy.ts')).mtimeMs;
  const from = forced === 'src' || forced === 'dist' ? forced : distOk ? 'dist' : 'src';
  if (from === 'src') return { script: PROXY_PROCESS, from };
  const script = join(dir, 'proxy-process.mjs');
  copyFileSync(PROXY_PROCESS, script);
  return { script, from };
}

// ---- rounds -----------------------------------------------------------------------

interface Target {
  key: 'meshctl' | 'haproxy';
  name: string;
  port: number;
  preamble: string;
  serverPid: number;
}

interface Round {
  round: number;
  seconds: number;
  connections: number;
  connectionsPerSecond: number;
  failed: number;
  resumed: number;
  errors: string[];
  serverCpuSeconds: number;
  serverCores: number;
  serverCpuUsPerHandshake: number;
  nginxCpuUsPerConnection: number;
  clientCores: number;
  /** Busy cores on the machine besides the server, nginx and this process: the noise. */
  otherCores: number;
  latencyMs: { p50: number; p99: number };
}

const round1 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 10) / 10 : x);
const round3 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x);
async function runRound(target: Target, round: number, pki: { certPem: string; keyPem: string; caPem: string }, nginxPid: number): Promise<Round> {
  const start = performance.timeOrigin + performance.now() + 50;
  const measureFrom = start + WARMUP_SECONDS * 1000;
  const until = measureFrom + ROUND_SECONDS * 1000;
  const job: ClientJob = { kind: 'handshake-client', port: target.port, preamble: target.preamble, ...pki, concurrency: CONCURRENCY_PER_WORKER, measureFromEpochMs: measureFrom, untilEpochMs: until };
  const workers = Array.from({ length: WORKERS }, () => new Worker(new URL(import.meta.url), { workerData: job }));
  const tallies = workers.map(
    (w) =>
      new Promise<ClientTally>((resolve, reject) => {
        w.once('message', (t: ClientTally) => resolve(t));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`client worker exited with ${code}`)));
      }),
  );
  await sleep(Math.max(0, measureFrom - (performance.timeOrigin + performance.now())));
  const server0 = cpuSeconds(target.serverPid);
  const nginx0 = cpuSeconds(nginxPid);
  const self0 = process.cpuUsage();
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  await sleep(Math.max(0, until - (performance.timeOrigin + performance.now())));
  // Measured at the end of the window; connections still in flight finish after it and are counted by the client only if they started inside it.
  const server1 = cpuSeconds(target.serverPid);
  const nginx1 = cpuSeconds(nginxPid);
  const selfU = process.cpuUsage(self0);
  const busy1 = machineBusySeconds();
  const wall = (performance.now() - t0) / 1000;
  const results = await Promise.all(tallies);
  await Promise.all(workers.map((w) => w.terminate()));
  const connections = results.reduce((n, t) => n + t.ok, 0);
  const serverCpu = server1 - server0;
  const nginxCpu = nginx1 - nginx0;
  // process.cpuUsage() is per process: this process = the client workers plus this thread (which only sleeps).
  const clientCpu = (selfU.user + selfU.system) / 1e6;
  const latencies = results.flatMap((t) => t.latencies).sort((a, b) => a - b);
  return {
    round,
    seconds: round3(wall),
    connections,
    connectionsPerSecond: Math.round(connections / wall),
    failed: results.reduce((n, t) => n + t.failed, 0),
    resumed: results.reduce((n, t) => n + t.resumed, 0),
    errors: [...new Set(results.flatMap((t) => t.errors))].slice(0, 3),
    serverCpuSeconds: round3(serverCpu),
    serverCores: round3(serverCpu / wall),
    serverCpuUsPerHandshake: Math.round((serverCpu * 1e6) / Math.max(1, connections)),
    nginxCpuUsPerConnection: Math.round((nginxCpu * 1e6) / Math.max(1, connections)),
    clientCores: round3(clientCpu / wall),
    otherCores: round3(Math.max(0, busy1 - busy0 - serverCpu - nginxCpu - clientCpu) / wall),
    latencyMs: { p50: round3(pct(latencies, 50)), p99: round3(pct(latencies, 99)) },
  };
}

// ---- the run ------------------------------------------------------------------------

export async function main(): Promise<void> {
  if (Number(process.versions.node.split('.')[0]) < 24) throw new Error(`Node ${process.version}: run with Node 24 (npm run bench -- handshake)`);
  for (const [binary, pkg] of [['nginx', 'nginx'], ['haproxy', 'haproxy']] as const) {
    if (spawnSync('sh', ['-c', `command -v ${binary}`]).status !== 0) throw new Error(`${binary} is not installed: apt-get install -y ${pkg}`);
  }
  const versions = {
    node: process.version,
    nginx: /nginx\/(\S+)/.exec(spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr)?.[1] ?? 'unknown',
    haproxy: /HAProxy version (\S+)/.exec(spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown',
  };
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-handshake-'));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await Promise.all([...children].map((c) => stopChild(c)));
      rmSync(dir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping nginx, HAProxy and the proxy, removing ${dir}`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  const onExit = () => {
    for (const c of children) if (c.running()) c.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
  const benchStart = performance.now();
  try {
    const [nginxPort, haproxyPort] = [await freePort(), await freePort()];
    for (const sub of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'nginx-tmp', sub), { recursive: true });
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, nginxPort, 'handshake.ts'));
    const nginx = launch('nginx', 'nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')]);
    await waitForPort(nginxPort, nginx);

    // meshctl first: it makes the mesh CA and the `app` leaf that HAProxy and the client use too.
    const build = meshctlScript(dir);
    const mesh = launch('meshctl proxy', process.execPath, [build.script, String(nginxPort), build.from], { stdinPipe: true, env: { MESHCTL_BENCH_PKI_DIR: dir } });
    const deadline = performance.now() + 20_000;
    let ready: RegExpExecArray | null = null;
    while (!(ready = /ready (\d+) (\d+)/.exec(mesh.output()))) {
      if (!mesh.running() || performance.now() > deadline) throw new Error(`meshctl proxy not ready:\n${mesh.output()}`);
      await sleep(20);
    }
    const inboundPort = Number(ready[2]);
    const pki = { certPem: readFileSync(join(dir, 'app.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'app.key'), 'utf8'), caPem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
    const pem = join(dir, 'app.pem');
    writeFileSync(pem, pki.certPem + pki.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig({ comment: 'mTLS termination for bench/handshake.ts', listen: haproxyPort, to: nginxPort, bindTls: { crt: pem, ca: join(dir, 'ca.pem') }, timeoutSeconds: 30 }));
    const haproxy = launch('haproxy', 'haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
    await waitForPort(haproxyPort, haproxy);

    const targets: Target[] = [
      { key: 'meshctl', name: 'meshctl inbound', port: inboundPort, preamble: PREAMBLE, serverPid: mesh.pid },
      { key: 'haproxy', name: 'HAProxy frontend', port: haproxyPort, preamble: '', serverPid: haproxy.pid },
    ];
    // One connection each through the same client code: both must answer 200 over mTLS before anything is measured.
    for (const t of targets) {
      await oneConnection({ kind: 'handshake-client', port: t.port, preamble: t.preamble, ...pki, concurrency: 1, measureFromEpochMs: 0, untilEpochMs: 0 }).catch((error: Error) => {
        throw new Error(`${t.name} does not answer over mTLS: ${error.message}\n${t.key === 'meshctl' ? mesh.output() : haproxy.output()}`);
      });
    }

    console.log(`handshake benchmark: new mutual-TLS 1.3 connections (RSA-2048 leaves, full handshakes), one GET each, loopback`);
    console.log(
      `machine: ${availableParallelism()} CPU (${cpus()[0]?.model.trim() ?? 'unknown'}), load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ` +
        `Node ${versions.node}, nginx ${versions.nginx}, HAProxy ${versions.haproxy}; meshctl from ${build.from}/`,
    );
    console.log(`client: ${WORKERS} worker threads × ${CONCURRENCY_PER_WORKER} connections in flight; ${ROUNDS} rounds × ${ROUND_SECONDS} s after ${WARMUP_SECONDS} s warm-up, targets interleaved`);
    console.log('');

    const rounds = new Map<Target['key'], Round[]>(targets.map((t) => [t.key, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const r = await runRound(t, round, pki, nginx.pid);
        rounds.get(t.key)!.push(r);
        console.log(
          `  round ${round}  ${t.name.padEnd(17)} ${String(r.connectionsPerSecond).padStart(6)} conn/s  server ${r.serverCores.toFixed(2)} cores, ` +
            `${r.serverCpuUsPerHandshake} µs/handshake; nginx ${r.nginxCpuUsPerConnection} µs/conn; client ${r.clientCores.toFixed(2)} cores; others ${r.otherCores.toFixed(2)} cores; ` +
            `p50 ${r.latencyMs.p50.toFixed(2)} / p99 ${r.latencyMs.p99.toFixed(2)} ms` +
            `${r.failed ? `; ${r.failed} FAILED (${r.errors.join('; ')})` : ''}${r.resumed ? `; ${r.resumed} RESUMED` : ''}`,
        );
      }
    }

    const summary = targets.map((t) => {
      const rs = rounds.get(t.key)!;
      const connections = rs.reduce((n, r) => n + r.connections, 0);
      const seconds = rs.reduce((n, r) => n + r.seconds, 0);
      const cpu = rs.reduce((n, r) => n + r.serverCpuSeconds, 0);
      return {
        key: t.key,
        name: t.name,
        rounds: rs,
        connectionsPerSecond: Math.round(connections / seconds),
        serverCpuUsPerHandshake: Math.round((cpu * 1e6) / Math.max(1, connections)),
        /** What one core of the server would sustain at that CPU cost. */
        handshakesPerServerCore: Math.round(connections / Math.max(cpu, 1e-9)),
        serverCores: round3(cpu / seconds),
        clientCores: round3(rs.reduce((n, r) => n + r.clientCores, 0) / rs.length),
        failed: rs.reduce((n, r) => n + r.failed, 0),
        resumed: rs.reduce((n, r) => n + r.resumed, 0),
      };
    });
    const [ours, theirs] = [summary.find((s) => s.key === 'meshctl')!, summary.find((s) => s.key === 'haproxy')!];
    const ratios = {
      connectionsPerSecond: round3(ours.connectionsPerSecond / theirs.connectionsPerSecond),
      serverCpuPerHandshake: round3(ours.serverCpuUsPerHandshake / theirs.serverCpuUsPerHandshake),
    };

    console.log('');
    const w = [20, 10, 14, 12, 14, 8, 8];
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
    console.log(row(['target', 'conn/s', 'server µs per', 'handshakes', 'server cores', 'failed', 'resumed']));
    console.log(row(['', '', 'handshake', 'per core', 'used', '', '']));
    for (const s of summary) {
      console.log(row([s.name, s.connectionsPerSecond.toLocaleString('en-US'), s.serverCpuUsPerHandshake.toLocaleString('en-US'), s.handshakesPerServerCore.toLocaleString('en-US'), s.serverCores.toFixed(2), String(s.failed), String(s.resumed)]));
    }
    console.log(`  meshctl ÷ HAProxy: ${ratios.connectionsPerSecond.toFixed(2)}× the connections per second, ${ratios.serverCpuPerHandshake.toFixed(2)}× the server CPU per handshake`);
    console.log(
      '  server CPU = utime+stime of the server process over the measured window ÷ connections completed in it (meshctl: the whole proxy process, TLS, preamble, ' +
        'inbound HTTP stage; HAProxy: TLS termination and HTTP; nginx behind both is reported per round). handshakes per core = 1 s ÷ that CPU: ' +
        `the rate one core would sustain; conn/s depends on the client (${ours.clientCores.toFixed(2)} / ${theirs.clientCores.toFixed(2)} cores) and on other load on this ${availableParallelism()}-CPU machine.`,
    );

    const results = {
      benchmark: 'handshake',
      date: new Date().toISOString(),
      machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model.trim() ?? 'unknown', platform: `${process.platform}-${process.arch}`, loadAverageAtEnd: loadavg().map(round1) },
      versions,
      method: {
        certificates: 'the mesh CA (trust domain bench.mesh) and the `app` leaf, RSA-2048, made by bench/proxy-process.ts with src/lib/pki/x509.ts; both servers present that leaf and require a client certificate from that CA',
        client: `Node tls.connect in ${WORKERS} worker threads × ${CONCURRENCY_PER_WORKER} in flight: TLS 1.3, SNI app, ALPN http/1.1, the app leaf, chain verified, no session offered (full handshakes), one GET (after "${PREAMBLE.trim()}" for meshctl), read the 200, close`,
        meshctl: `bench/proxy-process.ts from ${build.from}/: its inbound listener (mTLS, preamble, inbound HTTP stage → nginx)`,
        haproxy: 'nbthread 1; bind … ssl crt app.pem ca-file ca.pem verify required alpn http/1.1 ssl-min-ver TLSv1.3; http-reuse always to nginx',
        rounds: `${ROUNDS} × ${ROUND_SECONDS} s after ${WARMUP_SECONDS} s warm-up each, targets interleaved`,
        cpu: 'utime+stime from /proc/<pid>/stat of the server process over each measured window',
      },
      targets: summary,
      ratios,
      totalSeconds: round1((performance.now() - benchStart) / 1000),
    };
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    console.log('');
    console.log(`wrote bench/results/handshake.json (${results.totalSeconds} s in all)`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
    process.off('exit', onExit);
  }
}
