// The identity checks OpenSSL does not make, on certificates from the test CA.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { checkPeerCertificate } from '../../src/lib/pki/peer.ts';
import { craftedLeaf, makeTestCa, serviceId } from '../helpers/pki.ts';

const ca = makeTestCa('unit.mesh');
const der = (pem: string) => new X509Certificate(pem).raw;

test('a leaf of this trust domain names its service', () => {
  const check = checkPeerCertificate(der(ca.leaf('web').certPem), 'unit.mesh');
  assert.deepEqual(check, { ok: true, identity: { trustDomain: 'unit.mesh', datacenter: 'dc1', service: 'web' }, spiffeId: serviceId(ca, 'web') });
});

const refused: Array<[string, () => string, string, RegExp]> = [
  ['another trust domain', () => ca.leaf('web').certPem, 'other.mesh', /trust domain unit\.mesh is not this mesh's \(other\.mesh\)/],
  ['two URI SANs', () => craftedLeaf(ca, { uris: [serviceId(ca, 'web'), serviceId(ca, 'admin')] }).certPem, 'unit.mesh', /2 URI SANs/],
  ['no URI SAN', () => craftedLeaf(ca, { uris: [] }).certPem, 'unit.mesh', /0 URI SANs/],
  ['CA:true', () => craftedLeaf(ca, { uris: [serviceId(ca, 'web')], isCa: true }).certPem, 'unit.mesh', /is a CA/],
  ['a URI that is not a service ID', () => craftedLeaf(ca, { uris: ['spiffe://unit.mesh/ns/default/dc/dc1/svc/web,URI:spiffe://unit.mesh/x'] }).certPem, 'unit.mesh', /not a mesh service SPIFFE ID/],
  ['the root itself', () => ca.certPem, 'unit.mesh', /is a CA/],
];
for (const [name, pem, trustDomain, reason] of refused) {
  test(`refused: ${name}`, () => {
    const check = checkPeerCertificate(der(pem()), trustDomain);
    assert.equal(check.ok, false);
    assert.match((check as { reason: string }).reason, reason);
  });
}

test('garbage is refused, not thrown', () => {
  const check = checkPeerCertificate(Buffer.from('not a certificate'), 'unit.mesh');
  assert.equal(check.ok, false);
});
