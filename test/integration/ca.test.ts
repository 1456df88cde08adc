// The mesh CA against a real server: roots in Consul's shape, CSRs signed
// only for the services the caller's token may register, and the CA kept
// across a restart.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { spiffeIdOf } from '../../src/lib/pki/spiffe.ts';
import { createCsr, generateKeyPair } from '../../src/lib/pki/x509.ts';
import { MESHCTL, api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
before(async () => {
  server = await startServer({ extraArgs: ['--leaf-ttl', '5m'] });
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

interface Roots {
  TrustDomain: string;
  ActiveRootID: string;
  Roots: Array<{ ID: string; RootCert: string; Active: boolean }>;
}

const roots = async () => (await (await api({ url: server.url, token: '' }, 'GET', '/v1/connect/ca/roots')).json()) as Roots;

test('the roots are public, in Consul shape, and the server printed the hash to pin', async () => {
  const r = await roots();
  assert.match(r.TrustDomain, /^[0-9a-f-]{36}\.mesh$/);
  assert.equal(r.Roots.length, 1);
  assert.equal(r.Roots[0]!.Active, true);
  assert.equal(r.ActiveRootID, r.Roots[0]!.ID);
  assert.match(server.output(), new RegExp(`--ca-hash ${r.ActiveRootID}`));
  const show = spawnSync(MESHCTL, ['ca', 'show', '--json', '--server', server.address], { encoding: 'utf8' });
  assert.equal((JSON.parse(show.stdout) as Roots).ActiveRootID, r.ActiveRootID);
});

test('an agent token gets certificates for its services only', async () => {
  const { TrustDomain, Roots: [root] } = await roots();
  const made = await api(server, 'PUT', '/v1/acl/token', { NodeIdentities: [{ NodeName: 'h1' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  const agent = { url: server.url, token: ((await made.json()) as { SecretID: string }).SecretID };
  const keys = generateKeyPair();
  const sign = (who: { url: string; token: string }, service: string) => api(who, 'POST', '/v1/mesh/ca/sign', { CSR: createCsr(keys, [spiffeIdOf({ trustDomain: TrustDomain, datacenter: 'dc1', service })]) });

  const ok = await sign(agent, 'web');
  assert.equal(ok.status, 200);
  const leaf = (await ok.json()) as { CertPEM: string; SpiffeID: string; ValidAfter: string; ValidBefore: string };
  const cert = new X509Certificate(leaf.CertPEM);
  assert.equal(cert.subjectAltName, `URI:${leaf.SpiffeID}`);
  assert.equal(cert.verify(new X509Certificate(root!.RootCert).publicKey), true);
  const ttl = Date.parse(leaf.ValidBefore) - Date.now();
  assert.ok(ttl > 4 * 60_000 && ttl <= 5 * 60_000, `--leaf-ttl 5m gives a 5 minute leaf (${ttl} ms left)`);

  const other = await sign(agent, 'db');
  assert.equal(other.status, 403);
  assert.match(await other.text(), /may not register service "db"/);
  assert.equal((await sign({ url: server.url, token: '' }, 'web')).status, 403, 'anonymous callers get nothing');
  const bad = await api(agent, 'POST', '/v1/mesh/ca/sign', { CSR: createCsr(keys, [spiffeIdOf({ trustDomain: 'evil.mesh', datacenter: 'dc1', service: 'web' })]) });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /certificate request refused: trust domain evil\.mesh/);
});

test('the CA survives a restart', async () => {
  const before = await roots();
  await server.stop();
  server = await startServer({ dataDir: server.dataDir, extraArgs: ['--leaf-ttl', '5m'] });
  const afterRestart = await roots();
  assert.deepEqual([afterRestart.TrustDomain, afterRestart.ActiveRootID], [before.TrustDomain, before.ActiveRootID]);
  assert.doesNotMatch(server.output(), /CA created/, 'not made again');
});
