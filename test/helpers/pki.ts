// Certificates for tests: a mesh CA made in memory with the production
// builders, leaves for it, and the bad certificates a hostile or broken
// client might present (built with node-forge directly, since the CA refuses
// to sign them: that is the point).

import forge from 'node-forge';
import { createRoot, generateKeyPair, signLeaf, type KeyPairPem } from '../../src/lib/pki/x509.ts';
import { spiffeIdOf } from '../../src/lib/pki/spiffe.ts';

export const TEST_DATACENTER = 'dc1';

export interface TestCa {
  trustDomain: string;
  certPem: string;
  keys: KeyPairPem;
  leaf(service: string, options?: { notBefore?: Date; notAfter?: Date; keys?: KeyPairPem }): { certPem: string; keyPem: string };
}

const HOUR = 3_600_000;
let sharedKeys: KeyPairPem | undefined;

/** One RSA key pair reused by every test leaf: key generation is the slow part, and tests check names and chains, not keys. */
export function testKeys(): KeyPairPem {
  sharedKeys ??= generateKeyPair();
  return sharedKeys;
}

export function makeTestCa(trustDomain = 'test-cluster.mesh'): TestCa {
  const keys = generateKeyPair();
  const now = Date.now();
  const certPem = createRoot({ keys, trustDomain, notBefore: new Date(now - HOUR), notAfter: new Date(now + 24 * HOUR) });
  return {
    trustDomain,
    certPem,
    keys,
    leaf(service, options = {}) {
      const leafKeys = options.keys ?? testKeys();
      const leafPem = signLeaf({
        publicKeyPem: leafKeys.publicKeyPem,
        identity: { trustDomain, datacenter: TEST_DATACENTER, service },
        rootCertPem: certPem,
        rootKeyPem: keys.privateKeyPem,
        notBefore: options.notBefore ?? new Date(now - HOUR),
        notAfter: options.notAfter ?? new Date(now + 12 * HOUR),
      });
      return { certPem: leafPem, keyPem: leafKeys.privateKeyPem };
    },
  };
}

/** A leaf signed by `ca` with what the CA would never sign: several URI SANs, or CA:true. */
export function craftedLeaf(ca: TestCa, options: { uris: string[]; isCa?: boolean }): { certPem: string; keyPem: string } {
  const leafKeys = testKeys();
  const root = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(leafKeys.publicKeyPem);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - HOUR);
  cert.validity.notAfter = new Date(Date.now() + HOUR);
  cert.setSubject([{ name: 'commonName', value: 'crafted' }]);
  cert.setIssuer(root.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: options.isCa ?? false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: options.isCa ?? false, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: options.uris.map((value) => ({ type: 6, value })), critical: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keys.privateKeyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: leafKeys.privateKeyPem };
}

export const serviceId = (ca: TestCa, service: string): string => spiffeIdOf({ trustDomain: ca.trustDomain, datacenter: TEST_DATACENTER, service });
