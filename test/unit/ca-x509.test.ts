import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, test } from 'node:test';
import { spiffeIdOf } from '../../src/lib/pki/spiffe.ts';
import { certificateHash, checkCsr, createCsr, createRoot, crossSign, generateKeyPair, signLeaf, type KeyPairPem } from '../../src/lib/pki/x509.ts';

const TD = 'c0ffee.mesh';
const expect = { trustDomain: TD, datacenter: 'dc1' };
const web = spiffeIdOf({ trustDomain: TD, datacenter: 'dc1', service: 'web' });
let rootKeys: KeyPairPem;
let rootPem: string;
let leafKeys: KeyPairPem;
const now = new Date('2026-11-26T00:00:00Z');

before(() => {
  rootKeys = generateKeyPair();
  leafKeys = generateKeyPair();
  rootPem = createRoot({ keys: rootKeys, trustDomain: TD, notBefore: now, notAfter: new Date(now.getTime() + 10 * 365 * 86_400_000) });
});

test('the root is a CA for its trust domain, self-signed', () => {
  const root = new X509Certificate(rootPem);
  assert.equal(root.ca, true);
  assert.equal(root.subjectAltName, `URI:spiffe://${TD}`);
  assert.equal(root.verify(root.publicKey), true);
  assert.match(certificateHash(rootPem), /^sha256:[0-9a-f]{64}$/);
  assert.equal(certificateHash(rootPem), `sha256:${root.fingerprint256.replace(/:/g, '').toLowerCase()}`);
});

test('a good CSR is accepted and the leaf is what the mesh needs', () => {
  const check = checkCsr(createCsr(leafKeys, [web]), expect);
  assert.equal(check.ok, true);
  if (!check.ok) return;
  assert.deepEqual(check.identity, { trustDomain: TD, datacenter: 'dc1', service: 'web' });
  const leafPem = signLeaf({ publicKeyPem: check.publicKeyPem, identity: check.identity, rootCertPem: rootPem, rootKeyPem: rootKeys.privateKeyPem, notBefore: now, notAfter: new Date(now.getTime() + 5 * 60_000) });
  const leaf = new X509Certificate(leafPem);
  const root = new X509Certificate(rootPem);
  assert.equal(leaf.ca, false);
  assert.equal(leaf.checkIssued(root), true);
  assert.equal(leaf.verify(root.publicKey), true);
  assert.equal(leaf.subjectAltName, `URI:${web}`, 'one URI SAN, the SPIFFE ID');
  assert.deepEqual(leaf.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'serverAuth and clientAuth');
  assert.equal(new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime(), 5 * 60_000);
  assert.equal(leaf.publicKey.export({ type: 'spki', format: 'pem' }), leafKeys.publicKeyPem, 'the host-made key, which never left the host');
});

test('CSRs the CA must refuse are refused with the reason', () => {
  const other = generateKeyPair();
  const tampered = flipSignatureByte(createCsr(leafKeys, [web]));
  const cases: Array<[string, string, RegExp]> = [
    ['two URI SANs', createCsr(leafKeys, [web, spiffeIdOf({ trustDomain: TD, datacenter: 'dc1', service: 'db' })]), /exactly one URI SAN, it has 2/],
    ['no URI SAN', createCsr(leafKeys, []), /exactly one URI SAN, it has 0/],
    ['another trust domain', createCsr(leafKeys, [spiffeIdOf({ trustDomain: 'evil.mesh', datacenter: 'dc1', service: 'web' })]), /trust domain evil\.mesh is not this mesh's/],
    ['another datacenter', createCsr(leafKeys, [spiffeIdOf({ trustDomain: TD, datacenter: 'dc9', service: 'web' })]), /datacenter dc9/],
    ['CA:true', createCsr(leafKeys, [web], { ca: true }), /asks for CA:true/],
    ['not a service ID', createCsr(leafKeys, [`spiffe://${TD}/agent/x`]), /not a mesh service SPIFFE ID/],
    ['garbage', 'hello', /not a PEM certificate request/],
    ['a signature that does not verify', tampered, /does not verify/],
  ];
  for (const [name, pem, reason] of cases) {
    const check = checkCsr(pem, expect);
    assert.equal(check.ok, false, name);
    if (!check.ok) assert.match(check.reason, reason, name);
  }
  assert.equal(checkCsr(createCsr(other, [web]), expect).ok, true, 'any key of the host\'s is fine');
});

/** The same CSR with one byte of its signature (the DER's last bytes) changed. */
function flipSignatureByte(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
  der[der.length - 5] = (der[der.length - 5] as number) ^ 0xff;
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').trim();
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`;
}

test('a cross-signed new root lets a host that trusts only the old root verify the new root\'s leaves', () => {
  const newKeys = generateKeyPair();
  const newRootPem = createRoot({ keys: newKeys, trustDomain: TD, notBefore: now, notAfter: new Date(now.getTime() + 86_400_000), commonName: `meshctl CA ${TD} 2` });
  const crossPem = crossSign({ rootCertPem: newRootPem, issuerCertPem: rootPem, issuerKeyPem: rootKeys.privateKeyPem, notAfter: new Date(now.getTime() + 86_400_000) });
  const leafPem = signLeaf({ publicKeyPem: leafKeys.publicKeyPem, identity: { trustDomain: TD, datacenter: 'dc1', service: 'web' }, rootCertPem: newRootPem, rootKeyPem: newKeys.privateKeyPem, notBefore: now, notAfter: new Date(now.getTime() + 3_600_000) });
  const [leaf, cross, oldRoot, newRoot] = [leafPem, crossPem, rootPem, newRootPem].map((p) => new X509Certificate(p)) as [X509Certificate, X509Certificate, X509Certificate, X509Certificate];
  assert.equal(cross.subject, newRoot.subject, 'the cross-signed certificate names the new root');
  assert.equal(cross.issuer, oldRoot.subject, 'and is issued by the old one');
  assert.equal(cross.ca, true);
  assert.equal(leaf.verify(cross.publicKey) && cross.verify(oldRoot.publicKey), true, 'leaf → cross-signed → old root');
  assert.equal(leaf.verify(newRoot.publicKey), true, 'leaf → new root');
  assert.notEqual(newRoot.subject, oldRoot.subject, 'two roots never share a name');
});
