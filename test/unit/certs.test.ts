import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertManager, type CaClient } from '../../src/agent/certs/manager.ts';
import { RENEW_FROM, RENEW_TO, renewalDelay } from '../../src/agent/certs/renewal.ts';
import { checkCsr, createRoot, generateKeyPair, signLeaf } from '../../src/lib/pki/x509.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { waitFor } from '../helpers/server.ts';

test('renewal falls between 60% and 90% of the life, and is immediate when past due or expired', () => {
  const [from, to] = [1_000_000, 1_000_000 + 3_600_000];
  assert.equal(renewalDelay(from, from, to, () => 0), 0.6 * 3_600_000);
  assert.equal(renewalDelay(from, from, to, () => 0.999999) < 0.9 * 3_600_000 + 1, true);
  assert.equal(renewalDelay(from + 0.95 * 3_600_000, from, to, () => 0.5), 0, 'past its renewal point: now');
  assert.equal(renewalDelay(to + 1, from, to, () => 0.5), 0, 'expired (a pause outlived it): now');
  assert.deepEqual([RENEW_FROM, RENEW_TO], [0.6, 0.9]);
});

function fakeCa(clock: FakeClock, ttlMs: number) {
  const rootKeys = generateKeyPair();
  const rootPem = createRoot({ keys: rootKeys, trustDomain: 'td.mesh', notBefore: new Date(clock.now() - 60_000), notAfter: new Date(clock.now() + 86_400_000 * 365) });
  const signed: string[] = [];
  let failNext = 0;
  const client: CaClient = {
    roots: async () => ({ trustDomain: 'td.mesh', datacenter: 'dc1', rootsPem: [rootPem] }),
    sign: async (csr) => {
      if (failNext > 0) {
        failNext -= 1;
        throw new Error('server unreachable');
      }
      const check = checkCsr(csr, { trustDomain: 'td.mesh', datacenter: 'dc1' });
      if (!check.ok) throw new Error(check.reason);
      signed.push(check.identity.service);
      // X.509 times have second precision: start on a whole second.
      const start = Math.floor(clock.now() / 1000) * 1000;
      return { certPem: signLeaf({ publicKeyPem: check.publicKeyPem, identity: check.identity, rootCertPem: rootPem, rootKeyPem: rootKeys.privateKeyPem, notBefore: new Date(start), notAfter: new Date(start + ttlMs) }) };
    },
  };
  return { client, signed, failNextSigns: (n: number) => (failNext = n) };
}

test('leaves are issued at start, renewed between 60% and 90% of their life, and kept 0600 on disk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.parse('2026-11-26T00:00:00Z'));
  const ca = fakeCa(clock, 3_600_000);
  const manager = new CertManager({ dataDir: dir, client: ca.client, clock, random: () => 0.5, log: () => {} });
  t.after(() => manager.stop());
  manager.start(['web']);
  clock.advance(0);
  await waitFor(() => ca.signed.length === 1, 5000, 'the first leaf');
  const first = manager.leaf('web')!;
  assert.equal(first.spiffeId, 'spiffe://td.mesh/ns/default/dc/dc1/svc/web');
  assert.equal(statSync(join(dir, 'agent', 'certs', 'web.key')).mode & 0o777, 0o600, 'the key is private to root');
  clock.advance(0.74 * 3_600_000);
  await new Promise((r) => setImmediate(r));
  assert.equal(ca.signed.length, 1, 'not before 75% with random 0.5');
  clock.advance(0.02 * 3_600_000);
  await waitFor(() => ca.signed.length === 2, 5000, 'the renewal');
  const second = manager.leaf('web')!;
  assert.ok(second.notAfter > first.notAfter);
  assert.equal(new X509Certificate(second.certPem).publicKey.export({ type: 'spki', format: 'pem' }), new X509Certificate(first.certPem).publicKey.export({ type: 'spki', format: 'pem' }), 'the same host key');
  assert.equal(manager.status()[0]!.valid, true);
});

test('a failed renewal is retried with backoff and the current leaf stays in use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.parse('2026-11-26T00:00:00Z'));
  const ca = fakeCa(clock, 3_600_000);
  const manager = new CertManager({ dataDir: dir, client: ca.client, clock, random: () => 0, log: () => {} });
  t.after(() => manager.stop());
  manager.start(['api']);
  clock.advance(0);
  await waitFor(() => ca.signed.length === 1);
  ca.failNextSigns(2);
  clock.advance(0.6 * 3_600_000);
  await new Promise((r) => setImmediate(r));
  assert.ok(manager.leaf('api'), 'still has its leaf');
  clock.advance(1_000);
  await new Promise((r) => setImmediate(r));
  clock.advance(2_000);
  await waitFor(() => ca.signed.length === 2, 5000, 'success after two failures');
});

test('a leaf found expired at start (the host slept through it) is renewed at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-certs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.parse('2026-11-26T00:00:00Z'));
  const ca = fakeCa(clock, 5 * 60_000);
  const first = new CertManager({ dataDir: dir, client: ca.client, clock, random: () => 0.5, log: () => {} });
  first.start(['db']);
  clock.advance(0);
  await waitFor(() => ca.signed.length === 1);
  first.stop();
  clock.advance(3_600_000); // the agent was away for an hour
  const second = new CertManager({ dataDir: dir, client: ca.client, clock, random: () => 0.5, log: () => {} });
  t.after(() => second.stop());
  second.start(['db']);
  assert.equal(second.status()[0]!.valid, false, 'the leaf on disk has expired');
  clock.advance(0);
  await waitFor(() => ca.signed.length === 2, 5000, 'an immediate renewal');
  assert.equal(second.status()[0]!.valid, true);
});
