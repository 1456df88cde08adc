// What a peer's certificate says about who it is, read from the DER itself:
// the URI SANs from the parsed subjectAltName extension (never from a string
// form, where a crafted name could smuggle a comma or a second URI) and the
// basicConstraints CA flag. The chain, the dates and the signature are
// OpenSSL's to check during the handshake; this is what it does not check.

import forge from 'node-forge';
import { parseSpiffeId, type ServiceIdentity } from './spiffe.ts';

export type PeerCheck = { ok: true; identity: ServiceIdentity; spiffeId: string } | { ok: false; reason: string };

interface Extension {
  name?: string;
  cA?: boolean;
  altNames?: Array<{ type: number; value: string }>;
}

/** The mesh identity of a leaf certificate, refused unless it is exactly one service ID in `trustDomain` and not a CA. */
export function checkPeerCertificate(der: Buffer, trustDomain: string): PeerCheck {
  let extensions: Extension[];
  try {
    extensions = (forge.pki.certificateFromAsn1(forge.asn1.fromDer(der.toString('binary'))) as unknown as { extensions: Extension[] }).extensions;
  } catch (error) {
    return { ok: false, reason: `unreadable certificate (${(error as Error).message}); mesh leaves are RSA certificates from the mesh CA` };
  }
  if (extensions.some((e) => e.name === 'basicConstraints' && e.cA)) return { ok: false, reason: 'the certificate is a CA (basicConstraints CA:true), not a service leaf' };
  const uris = extensions.filter((e) => e.name === 'subjectAltName').flatMap((e) => (e.altNames ?? []).filter((n) => n.type === 6).map((n) => n.value));
  if (uris.length !== 1) return { ok: false, reason: `the certificate carries ${uris.length} URI SANs; a mesh identity is exactly one` };
  const spiffeId = uris[0] as string;
  const identity = parseSpiffeId(spiffeId);
  if (!identity) return { ok: false, reason: `"${spiffeId}" is not a mesh service SPIFFE ID` };
  if (identity.trustDomain !== trustDomain) return { ok: false, reason: `trust domain ${identity.trustDomain} is not this mesh's (${trustDomain})` };
  return { ok: true, identity, spiffeId };
}
