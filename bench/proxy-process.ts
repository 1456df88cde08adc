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
// Prints `ready <upstream port> <inbound port>` on stdout once it listens.
// Exits on SIGTERM/SIGINT (after proxy.stop(), so --cpu-prof profiles get
// written), and when its stdin closes, so it cannot outlive the benchmark.

import { createServer } from 'node:net';
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
const proxy = new Proxy({ inboundHost: '127.0.0.1', inboundPort: 0, clock: systemClock, random: systemRandom, log: () => {} });
await proxy.start();
const inboundPort = Number(String(proxy.inboundAddress).split(':').pop());
const upstreamPort = await freePort();
await proxy.apply({
  upstreams: [{ service, localPort: upstreamPort }],
  instances: new Map([[service, [{ node: 'local', id: 'app', address: '127.0.0.1', port: appPort, weight: 1, inboundPort }]]]),
  serviceDefaults: new Map([[service, { protocol: 'http' }]]),
  local: [{ id: 'app', name: service, port: appPort }],
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 2_000).unref();
  Promise.resolve(proxy.stop())
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
