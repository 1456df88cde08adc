// The meshctl proxy under test, as its own process, running the build that
// ships (dist/, plain JavaScript: no type stripping in the measured process).
// An upstream listener for service `app` whose one instance is APP_PORT,
// reached through this same process's inbound listener: the whole mesh path
// on one host (outbound stage, hop, inbound stage). Prints "ready".

import { systemClock, systemRandom } from '../dist/lib/clock.js';
import { Proxy } from '../dist/proxy/proxy.js';

const appPort = Number(process.argv[2]);
const upstreamPort = Number(process.argv[3]);
const proxy = new Proxy({ inboundHost: '127.0.0.1', inboundPort: 0, clock: systemClock, random: systemRandom, log: () => {} });
await proxy.start();
const inboundPort = Number(proxy.inboundAddress.split(':').pop());
await proxy.apply({
  upstreams: [{ service: 'app', localPort: upstreamPort }],
  instances: new Map([['app', [{ node: 'local', id: 'app', address: '127.0.0.1', port: appPort, weight: 1, inboundPort }]]]),
  serviceDefaults: new Map([['app', { protocol: 'http' }]]),
  local: [{ id: 'app', name: 'app', port: appPort }],
});
process.stdout.write(`ready ${upstreamPort}\n`);
process.on('SIGTERM', () => void proxy.stop().then(() => process.exit(0)));
