// The server's TLS API: its certificate verifies against the mesh root under
// the name server.<trust domain>, and the sign endpoint takes a service's
// current leaf, presented as the TLS client certificate, in place of a token
// (so renewal never depends on the join token still being valid), for that
// service only.

import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, test } from 'node:test';
import { createCsr, generateKeyPair, serverName } from '../../src/lib/pki/x509.ts';
import { spiffeIdOf } from '../../src/lib/pki/spiffe.ts';
import { api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
let roots: string[];
let trustDomain: string;
const keys = generateKeyPair();

before(async () => {
  server = await startServer();
  const body = (await (await api(server, 'GET', '/v1/connect/ca/roots')).json()) as { TrustDomain: string; Roots: Array<{ RootCert: string }> };
  roots = body.Roots.map((r) => r.RootCert);
  trustDomain = body.TrustDomain;
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

interface Call {
  token?: string;
  cert?: { certPem: string; keyPem: string };
  servername?: string;
}

/** POST /v1/mesh/ca/sign over TLS, verifying the server against the mesh roots. */
function sign(service: string, call: Call): Promise<{ status: number; body: string }> {
  const csr = createCsr(keys, [spiffeIdOf({ trustDomain, datacenter: 'dc1', service })]);
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.httpsUrl}/v1/mesh/ca/sign`,
      {
        method: 'POST',
        ca: roots,
        servername: call.servername ?? serverName(trustDomain),
        headers: { 'content-type': 'application/json', ...(call.token ? { 'x-consul-token': call.token } : {}) },
        ...(call.cert ? { cert: call.cert.certPem, key: call.cert.keyPem } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ CSR: csr }));
  });
}

async function webLeaf(): Promise<{ certPem: string; keyPem: string }> {
  const made = await api(server, 'PUT', '/v1/acl/token', { NodeIdentities: [{ NodeName: 'tls-node' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  const token = ((await made.json()) as { SecretID: string }).SecretID;
  const signed = await sign('web', { token });
  assert.equal(signed.status, 200, signed.body);
  const { CertPEM, ChainPEM } = JSON.parse(signed.body) as { CertPEM: string; ChainPEM: string[] };
  return { certPem: CertPEM + ChainPEM.join(''), keyPem: keys.privateKeyPem };
}

test('the TLS API verifies as server.<trust domain> against the mesh root, and under no other name', async () => {
  await webLeaf();
  await assert.rejects(sign('web', { servername: 'impostor.example' }), /altnames|ERR_TLS_CERT_ALTNAME_INVALID/);
});

test("a service's current leaf renews it without a token, and only it", async () => {
  const leaf = await webLeaf();
  const renewed = await sign('web', { cert: leaf });
  assert.equal(renewed.status, 200, renewed.body);
  assert.match((JSON.parse(renewed.body) as { SpiffeID: string }).SpiffeID, /\/svc\/web$/);
  const other = await sign('db', { cert: leaf });
  assert.equal(other.status, 403, 'the web leaf does not get a db certificate');
  assert.match(other.body, /may not register service "db"/);
  const anonymous = await sign('web', {});
  assert.equal(anonymous.status, 403, 'no token and no certificate: refused');
});

test('a second rotation is refused while the root it would drop may still have leaves, unless forced', async () => {
  const rotate = (query = '') => api(server, 'POST', `/v1/mesh/ca/rotate${query}`);
  const first = await rotate();
  assert.equal(first.status, 200, await first.text());
  const second = await rotate();
  assert.equal(second.status, 409);
  assert.match(await second.text(), /would drop the root before the last one while its leaves may live until/);
  const forced = await rotate('?force=true');
  assert.equal(forced.status, 200);
  assert.equal(((await forced.json()) as { Roots: string[] }).Roots.length, 2);
});
