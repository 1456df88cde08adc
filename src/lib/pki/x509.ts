// Certificates for the mesh CA: node-forge builds and signs them, Node's
// crypto makes the keys. RSA-2048, because node-forge signs with RSA only.
// Pure functions of their inputs (keys, times, serials), so tests pin them.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { parseSpiffeId, spiffeIdOf, type ServiceIdentity } from './spiffe.ts';

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

const serial = (): string => `01${randomBytes(15).toString('hex')}`;

export interface RootInput {
  keys: KeyPairPem;
  trustDomain: string;
  notBefore: Date;
  notAfter: Date;
  /** Each root its own subject, so chains across a rotation never confuse two roots of one name. */
  commonName?: string;
}

/** A self-signed root whose only name is the trust domain (as SPIFFE roots carry it). */
export function createRoot(input: RootInput): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(input.keys.publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = input.notBefore;
  cert.validity.notAfter = input.notAfter;
  const name = [{ name: 'commonName', value: input.commonName ?? `meshctl CA ${input.trustDomain}` }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectAltName', altNames: [{ type: 6, value: `spiffe://${input.trustDomain}` }] },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(input.keys.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** sha256 of the certificate's DER, as `sha256:<hex>`: what join pins (--ca-hash). */
export function certificateHash(certPem: string): string {
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(), 'binary');
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

export type CsrCheck = { ok: true; identity: ServiceIdentity; publicKeyPem: string } | { ok: false; reason: string };

/**
 * What a CSR asks for, refused unless it is exactly one service identity in
 * our trust domain and datacenter, with a valid self-signature, and no CA
 * powers. The SAN is read from the parsed extension, never from a string.
 */
export function checkCsr(csrPem: string, expect: { trustDomain: string; datacenter: string }): CsrCheck {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (error) {
    return { ok: false, reason: `not a PEM certificate request: ${(error as Error).message}` };
  }
  if (!csr.publicKey) return { ok: false, reason: 'the CSR has no RSA public key (meshctl leaves are RSA-2048)' };
  try {
    if (!csr.verify()) return { ok: false, reason: 'the CSR signature does not verify' };
  } catch {
    return { ok: false, reason: 'the CSR signature does not verify' };
  }
  const requested = (csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: Array<{ name: string; cA?: boolean; altNames?: Array<{ type: number; value: string }> }> } | null)?.extensions ?? [];
  if (requested.some((e) => e.name === 'basicConstraints' && e.cA)) return { ok: false, reason: 'the CSR asks for CA:true' };
  const uris = requested.filter((e) => e.name === 'subjectAltName').flatMap((e) => (e.altNames ?? []).filter((n) => n.type === 6).map((n) => n.value));
  if (uris.length !== 1) return { ok: false, reason: `the CSR must carry exactly one URI SAN, it has ${uris.length}` };
  const identity = parseSpiffeId(uris[0] as string);
  if (!identity) return { ok: false, reason: `"${uris[0]}" is not a mesh service SPIFFE ID (spiffe://<trust-domain>/ns/default/dc/<dc>/svc/<service>)` };
  if (identity.trustDomain !== expect.trustDomain) return { ok: false, reason: `trust domain ${identity.trustDomain} is not this mesh's (${expect.trustDomain})` };
  if (identity.datacenter !== expect.datacenter) return { ok: false, reason: `datacenter ${identity.datacenter} is not this server's (${expect.datacenter})` };
  return { ok: true, identity, publicKeyPem: forge.pki.publicKeyToPem(csr.publicKey as forge.pki.rsa.PublicKey) };
}

export interface LeafInput {
  publicKeyPem: string;
  identity: ServiceIdentity;
  rootCertPem: string;
  rootKeyPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** A leaf: cA=false, digitalSignature (and keyEncipherment for RSA key exchange), serverAuth + clientAuth, one URI SAN. */
export function signLeaf(input: LeafInput): string {
  return issueEndEntity(input, input.identity.service, { serverAuth: true, clientAuth: true }, { type: 6, value: spiffeIdOf(input.identity) });
}

/** An end-entity certificate signed by a root: the one way leaves and the server's certificate are made. */
function issueEndEntity(
  input: { publicKeyPem: string; rootCertPem: string; rootKeyPem: string; notBefore: Date; notAfter: Date },
  commonName: string,
  usage: { serverAuth: boolean; clientAuth?: boolean },
  name: { type: number; value: string },
): string {
  const root = forge.pki.certificateFromPem(input.rootCertPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(input.publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = input.notBefore;
  cert.validity.notAfter = input.notAfter;
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(root.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', ...usage },
    { name: 'subjectAltName', altNames: [name], critical: true },
    { name: 'authorityKeyIdentifier', keyIdentifier: root.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(input.rootKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Builds a CSR for a service identity with a host-made key (the agent's side). */
export function createCsr(keys: KeyPairPem, spiffeIds: readonly string[], extra: { ca?: boolean } = {}): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  csr.setSubject([]);
  const extensions: object[] = [{ name: 'subjectAltName', altNames: spiffeIds.map((value) => ({ type: 6, value })) }];
  if (extra.ca) extensions.push({ name: 'basicConstraints', cA: true });
  csr.setAttributes([{ name: 'extensionRequest', extensions }]);
  csr.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

export interface CrossSignInput {
  /** The new root: its subject and public key are kept. */
  rootCertPem: string;
  /** The root that vouches for it, and its key. */
  issuerCertPem: string;
  issuerKeyPem: string;
  notAfter: Date;
}

/**
 * The new root's name and key, signed by the old root: sent with leaves of
 * the new root, it lets a host that trusts only the old root still verify
 * them, so a rotation needs no flag day.
 */
export function crossSign(input: CrossSignInput): string {
  const root = forge.pki.certificateFromPem(input.rootCertPem);
  const issuer = forge.pki.certificateFromPem(input.issuerCertPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = root.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = root.validity.notBefore;
  cert.validity.notAfter = input.notAfter < issuer.validity.notAfter ? input.notAfter : issuer.validity.notAfter;
  cert.setSubject(root.subject.attributes);
  cert.setIssuer(issuer.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: issuer.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(input.issuerKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export interface ServerCertInput {
  publicKeyPem: string;
  /** The one DNS name agents check (serverName()): they reach the server by any address, and verify this name. */
  dnsName: string;
  rootCertPem: string;
  rootKeyPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** The control plane's own certificate for its TLS API: serverAuth only, one DNS name. */
export function signServerCertificate(input: ServerCertInput): string {
  return issueEndEntity(input, input.dnsName, { serverAuth: true }, { type: 2, value: input.dnsName });
}

/** The name in the server's certificate, checked by every agent and CLI: server.<trust domain>. */
export const serverName = (trustDomain: string): string => `server.${trustDomain}`;
