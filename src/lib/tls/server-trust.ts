// How agents and the CLI trust the server's TLS API (8501). The server's
// certificate comes from the mesh CA and names server.<trust domain>; a
// client trusts the mesh roots it holds, and nothing else.
// First contact (join) gets those roots one of two ways:
//  - a pin, like kubeadm's discovery hash: fetch the roots without checking,
//    keep only the root whose sha256 matches --ca-hash, then ask again over a
//    connection verified against that root alone (a man in the middle can
//    show any list of roots, but cannot present a certificate from the
//    pinned one);
//  - a CA file (--ca-file) given by the operator.
// The trust domain, and so the server name, is read from the root itself.

import { request, type RequestOptions } from 'node:https';
import forge from 'node-forge';
import { MeshError } from '../errors.ts';
import { certificateHash, serverName } from '../pki/x509.ts';

export interface ServerTls {
  /** The roots to verify the server against, or none with insecureSkipVerify. */
  rootsPem: readonly string[];
  insecureSkipVerify?: boolean;
}

interface RootsAnswer {
  TrustDomain: string;
  Roots: Array<{ RootCert: string }>;
}

/** The trust domain a mesh root names in its URI SAN (spiffe://<trust domain>), read from the parsed certificate. */
export function trustDomainOfRoot(rootPem: string): string {
  const cert = forge.pki.certificateFromPem(rootPem);
  const san = cert.getExtension('subjectAltName') as { altNames?: Array<{ type: number; value: string }> } | null;
  const uri = san?.altNames?.find((n) => n.type === 6)?.value ?? '';
  const match = /^spiffe:\/\/([a-z0-9.-]+)$/.exec(uri);
  if (!match) throw new MeshError('MESH_E_USAGE', 'the CA certificate is not a meshctl root (it has no spiffe://<trust domain> name)', { hint: 'give the root printed by meshctl ca show --json' });
  return match[1] as string;
}

/** TLS options for a request to the server: verified against the roots and the server name they imply. */
export function serverTlsOptions(tls: ServerTls): RequestOptions {
  if (tls.insecureSkipVerify) return { rejectUnauthorized: false };
  const first = tls.rootsPem[0];
  if (!first) throw new MeshError('MESH_E_SERVER_UNVERIFIED', 'no CA to verify the server with', { hint: 'join with --ca-hash or --ca-file' });
  return { ca: [...tls.rootsPem], servername: serverName(trustDomainOfRoot(first)), rejectUnauthorized: true };
}

/** GET /v1/connect/ca/roots over TLS with the given options. */
function fetchRoots(baseUrl: string, options: RequestOptions): Promise<RootsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/v1/connect/ca/roots`, { ...options, method: 'GET', timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new MeshError('MESH_E_SERVER_UNREACHABLE', `the server answered ${res.statusCode} for its CA roots`));
        try {
          resolve(JSON.parse(body) as RootsAnswer);
        } catch {
          reject(new MeshError('MESH_E_SERVER_UNREACHABLE', 'the server answered its CA roots with something that is not JSON'));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 10 s')));
    req.on('error', reject);
    req.end();
  });
}

function unverified(error: unknown, baseUrl: string, why: string): MeshError {
  if (error instanceof MeshError) return error;
  const e = error as NodeJS.ErrnoException;
  return new MeshError('MESH_E_SERVER_UNVERIFIED', `${baseUrl}: ${why}: ${e.code ?? e.message}`, { hint: 'check the address, and that --ca-hash or --ca-file is this mesh\'s (meshctl ca show on the server)' });
}

/** Join with --ca-hash: the roots, once the server has proved it holds a certificate from the pinned root. */
export async function discoverPinnedRoots(baseUrl: string, pin: string): Promise<string[]> {
  if (!/^sha256:[0-9a-f]{64}$/.test(pin)) throw new MeshError('MESH_E_USAGE', `--ca-hash "${pin}" is not sha256:<64 hex digits>`, { hint: 'copy it from meshctl server\'s first start, or from meshctl ca show' });
  const offered = await fetchRoots(baseUrl, { rejectUnauthorized: false }).catch((error) => {
    throw new MeshError('MESH_E_SERVER_UNREACHABLE', `cannot reach the server's TLS API at ${baseUrl}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { hint: 'check the address and port (8501 by default)' });
  });
  const pinned = offered.Roots.find((r) => certificateHash(r.RootCert) === pin);
  if (!pinned) throw new MeshError('MESH_E_SERVER_UNVERIFIED', `${baseUrl} offers no CA root with hash ${pin}`, { hint: 'this is not the mesh you meant, or someone is in the way: check the hash with meshctl ca show on the server' });
  return verifiedRoots(baseUrl, [pinned.RootCert]);
}

/** The server's roots, asked over a connection verified against `trustedPem` (a CA file, or the pinned root). */
export async function verifiedRoots(baseUrl: string, trustedPem: readonly string[]): Promise<string[]> {
  const answer = await fetchRoots(baseUrl, serverTlsOptions({ rootsPem: trustedPem })).catch((error) => {
    throw unverified(error, baseUrl, "the server's certificate does not verify against the CA");
  });
  return answer.Roots.map((r) => r.RootCert);
}
