// The client side of the mTLS hop: the caller's proxy checks that the peer it
// reached is the service it meant, from the peer certificate itself. A
// listener presenting another service's leaf (from the same CA, so the chain
// verifies) is refused before any request is sent.

import assert from 'node:assert/strict';
import { createServer as createTlsServer, type Server } from 'node:tls';
import { after, before, test } from 'node:test';
import { systemClock, systemRandom } from '../../src/lib/clock.ts';
import { compileIntentions } from '../../src/config/intention-table.ts';
import { Proxy } from '../../src/proxy/proxy.ts';
import { bedCertificateAuthority, freePort } from '../helpers/proxy-bed.ts';
import { listenLoopback } from '../helpers/listen.ts';

let impostor: Server;
let proxy: Proxy;
let upstreamPort: number;
let received = 0;

before(async () => {
  const ca = bedCertificateAuthority();
  const api = ca.leaf('api');
  // Answers any SNI with api's leaf, and would answer 200 to whatever reaches it.
  impostor = createTlsServer({ cert: api.certPem, key: api.keyPem, ca: ca.certPem, requestCert: true, ALPNProtocols: ['http/1.1'] }, (socket) => {
    socket.once('data', () => {
      received++;
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  const impostorPort = await listenLoopback(impostor);
  proxy = new Proxy({ inboundHost: '127.0.0.1', inboundPort: 0, clock: systemClock, random: systemRandom, log: () => {} });
  await proxy.start();
  proxy.updateCertificates({ trustDomain: ca.trustDomain, rootsPem: [ca.certPem] }, new Map([['client', ca.leaf('client')]]));
  upstreamPort = await freePort();
  await proxy.apply({
    upstreams: [{ service: 'web', localPort: upstreamPort, caller: 'client' }],
    instances: new Map([['web', [{ node: 'n', id: 'web', address: '127.0.0.1', port: 1, weight: 1, inboundPort: impostorPort }]]]),
    serviceDefaults: new Map([['web', { protocol: 'http', retries: { num_retries: 0 } }]]),
    intentions: compileIntentions([], 'allow'),
    local: [{ id: 'client', name: 'client', port: 1 }],
  });
});
after(async () => {
  await proxy.stop();
  impostor.close();
});

test('a peer that is not the service meant is refused, and nothing is sent to it', async () => {
  const res = await fetch(`http://127.0.0.1:${upstreamPort}/`);
  assert.equal(res.status, 502);
  const body = await res.text();
  assert.match(res.headers.get('x-mesh-error') ?? '', /^connect_failure; hop=outbound; service=web/);
  assert.match(body, /peer refused: it is spiffe:\/\/[^ ]+\/svc\/api, not the service web/);
  assert.equal(received, 0, 'no request reached the impostor');
});
