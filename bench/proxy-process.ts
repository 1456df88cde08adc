// The meshctl proxy under test, as a process of its own (so its CPU time and
// RSS can be read from /proc/<pid>/ without the load generator mixed in), for
// bench/proxy.ts:
//
//   node bench/proxy-process.ts APP_PORT [src|dist]
//
// It wires the proxy exactly as test/helpers/proxy-bed.ts does: one Proxy
// whose upstream listener 127.0.0.1:<free port> serves service `app`
// (service-defaults {protocol: 'http'}), whose one instance is the app on
// APP_PORT, reached through this same process's inbound listener. A request
// therefore crosses both stages of the mesh path: upstream listener →
// outbound HTTP stage → hop (preamble + keep-alive pool) → inbound listener →
// inbound HTTP stage → app.
//
// `src` (the default) loads src/**/*.ts through Node's type stripping; `dist`
// loads the build that ships (dist/**/*.js, what bin/meshctl runs). Type
// stripping costs the process 15–30 MB of RSS that the agent never pays, so
// the benchmark measures `dist` when it is current: it copies this file to
// <tmp>/proxy-process.mjs and runs it as plain JavaScript with MESHCTL_ROOT
// set. That is why this file holds no type syntax at all.
//
// The hop is mutual TLS 1.3, as between any two proxies: at start it makes a
// mesh CA (trust domain bench.mesh, RSA-2048, with the production builders of
// src/lib/pki/x509.ts) and a leaf for `app`, hands both to the proxy, and the
// upstream names `app` as its caller. Where other processes (bench/handshake.ts)
// need the same certificates, MESHCTL_BENCH_PKI_DIR=<dir> writes ca.pem,
// app.crt and app.key there before `ready`.
//
// TLS counters: on SIGUSR2 it prints `tls <json of proxy.tlsStats>` on stdout;
// with MESHCTL_BENCH_TLS_STATS=<file> it also writes that JSON there on stop.
//
// MESHCTL_BENCH_ACCESS_LOG=<dir> turns the agent's access log on (attachAccessLog, as
// src/agent/agent.ts does), writing under <dir>/agent/.
//
// Prints `ready <upstream port> <inbound port>` on stdout once it listens.
// Exits on SIGTERM/SIGINT (after proxy.stop(), so --cpu-prof profiles get
// written), and when its stdin closes, so it cannot outlive the benchmark.

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const appPort = Number(process.argv[2]);
const build = process.argv[3] ?? 'src';
if (!Number.isInteger(appPort) || appPort <= 0 || appPort > 65_535 || (build !== 'src' && build !== 'dist')) {
  process.stderr.write('usage: node bench/proxy-process.ts APP_PORT [src|dist]\n');
  process.exit(2);
}
const root = process.env.MESHCTL_ROOT ? pathToFileURL(`${process.env.MESHCTL_ROOT.replace(/\/$/, '')}/`) : new URL('..', import.meta.url);
const ext = build === 'dist' ? 'js' : 'ts';
const { Proxy } = await import(new URL(`${build}/proxy/proxy.${ext}`, root).href);
const { systemClock, systemRandom } = await import(new URL(`${build}/lib/clock.${ext}`, root).href);
const { createRoot, generateKeyPair, signLeaf } = await import(new URL(`${build}/lib/pki/x509.${ext}`, root).href);
const { compileIntentions } = await import(new URL(`${build}/config/intention-table.${ext}`, root).href);

function freePort() {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = address && typeof address === 'object' ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// As startProxyBed('app', [{ id: 'app', port: appPort }], { protocol: 'http' }).
const service = 'app';
const trustDomain = 'bench.mesh';
const HOUR = 3_600_000;
const now = Date.now();
const caKeys = generateKeyPair();
const caPem = createRoot({ keys: caKeys, trustDomain, notBefore: new Date(now - HOUR), notAfter: new Date(now + 24 * HOUR) });
const leafKeys = generateKeyPair();
const leafPem = signLeaf({
  publicKeyPem: leafKeys.publicKeyPem,
  identity: { trustDomain, datacenter: 'dc1', service },
  rootCertPem: caPem,
  rootKeyPem: caKeys.privateKeyPem,
  notBefore: new Date(now - HOUR),
  notAfter: new Date(now + 12 * HOUR),
});
const pkiDir = process.env.MESHCTL_BENCH_PKI_DIR;
if (pkiDir) {
  writeFileSync(join(pkiDir, 'ca.pem'), caPem);
  writeFileSync(join(pkiDir, `${service}.crt`), leafPem);
  writeFileSync(join(pkiDir, `${service}.key`), leafKeys.privateKeyPem, { mode: 0o600 });
}

const proxy = new Proxy({ inboundHost: '127.0.0.1', inboundPort: 0, clock: systemClock, random: systemRandom, log: () => {} });
await proxy.start();
// The process calls itself: `app` is both the caller and the callee, over mTLS like any hop.
proxy.updateCertificates({ trustDomain, rootsPem: [caPem] }, new Map([[service, { certPem: leafPem, keyPem: leafKeys.privateKeyPem }]]));
const inboundPort = Number(String(proxy.inboundAddress).split(':').pop());
const upstreamPort = await freePort();
await proxy.apply({
  upstreams: [{ service, localPort: upstreamPort, caller: service }],
  instances: new Map([[service, [{ node: 'local', id: 'app', address: '127.0.0.1', port: appPort, weight: 1, inboundPort }]]]),
  serviceDefaults: new Map([[service, { protocol: 'http' }]]),
  // An exact intention, judged on every request as in a real mesh (which denies by default).
  intentions: compileIntentions([{ Name: service, Config: { Sources: [{ Name: service, Action: 'allow' }] } }], 'deny'),
  local: [{ id: 'app', name: service, port: appPort }],
});

// The telemetry sinks every agent attaches (Prometheus metrics, the summary for meshctl stat, an idle
// tap), so the figures are those of the proxy as the agent runs it; MESHCTL_BENCH_SINKS=none leaves
// them out to measure the bare data path. Spans stay off, as in a mesh with no tracing.otlp_endpoint.
if (process.env.MESHCTL_BENCH_SINKS !== 'none') {
  const { MetricsSink } = await import(new URL(`${build}/agent/telemetry/metrics.${ext}`, root).href);
  const { SummarySink } = await import(new URL(`${build}/agent/telemetry/summary.${ext}`, root).href);
  const { TapSink } = await import(new URL(`${build}/agent/telemetry/tap.${ext}`, root).href);
  proxy.telemetry.add(new MetricsSink({ certificates: () => [], configVersion: () => 1 }));
  const summary = new SummarySink(systemClock);
  proxy.telemetry.add(summary);
  // The reporter's part: the summary is drained every second, as an agent's report takes it.
  setInterval(() => summary.take(), 1000).unref();
  proxy.telemetry.add(new TapSink({ clock: systemClock }));
}

// MESHCTL_BENCH_ACCESS_LOG=<dir>: the agent's access log on, as the agent wires it (DIR/agent/access.log).
const accessLog = process.env.MESHCTL_BENCH_ACCESS_LOG
  ? await (await import(new URL(`${build}/agent/telemetry/access-log-file.${ext}`, root).href)).attachAccessLog({ dataDir: process.env.MESHCTL_BENCH_ACCESS_LOG }, proxy.telemetry, console.error)
  : undefined;

const tlsStats = () => JSON.stringify(proxy.tlsStats);
process.on('SIGUSR2', () => process.stdout.write(`tls ${tlsStats()}\n`));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  if (process.env.MESHCTL_BENCH_TLS_STATS) {
    try {
      writeFileSync(process.env.MESHCTL_BENCH_TLS_STATS, `${tlsStats()}\n`);
    } catch {
      // The benchmark's temp dir may already be gone.
    }
  }
  setTimeout(() => process.exit(0), 2_000).unref();
  Promise.resolve(proxy.stop())
    .then(() => accessLog?.close())
    .catch(() => {})
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The benchmark holds our stdin open; when it goes (even killed with -9), so do we.
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

process.stdout.write(`ready ${upstreamPort} ${inboundPort}\n`);
