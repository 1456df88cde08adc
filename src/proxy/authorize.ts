// Intentions at the callee's inbound hop: may this caller (the SPIFFE service
// of its verified certificate) reach this service, and for HTTP, make this
// request? HTTP requests are judged on the one normalized path
// (src/lib/http/path-normalize.ts), and that normalized path is what is
// forwarded, so the policy and the app always see the same request. The
// answer to a denial names the intention that decided.

import type { IntentionTable } from '../config/intention-table.ts';
import { normalizeRequestTarget } from '../lib/http/path-normalize.ts';
import type { MeshFailure } from './mesh-error.ts';

/** The caller of a plaintext connection (a permissive service): only wildcard intentions can allow it. */
export const UNAUTHENTICATED = '';

export interface HttpRequestHead {
  url: string;
  method: string;
  /** Every value of each header, by lowercase name, in the order received. */
  headers: ReadonlyMap<string, readonly string[]>;
}

export type HttpVerdict = { ok: true; forwardPath: string } | { ok: false; failure: MeshFailure };

/** Variants judged at most per request: a request repeating more headers than this is refused. */
const MAX_VARIANTS = 32;

/** A TCP connection, or any hop, judged at connect: undefined when allowed. */
export function authorizeConnection(intentions: IntentionTable, source: string, service: string): MeshFailure | undefined {
  const decision = intentions.decide({ source, destination: service });
  return decision.action === 'allow' ? undefined : denial(service, source, decision.decidedBy);
}

/**
 * A request judged on its normalized path, method and headers. A repeated
 * header is judged as a whole and value by value, and any denial wins: an
 * app may read the first value, the last, or all of them, so a deny on one
 * of them must hold whichever it reads.
 */
export function authorizeHttp(intentions: IntentionTable, source: string, service: string, request: HttpRequestHead): HttpVerdict {
  const target = normalizeRequestTarget(request.url);
  if (!target.ok) return { ok: false, failure: { cause: 'bad_request', hop: 'inbound', service, detail: target.reason } };
  const joined = (name: string) => request.headers.get(name)?.join(', ');
  const variants: Array<(name: string) => string | undefined> = [joined];
  for (const [name, values] of request.headers) {
    if (values.length < 2) continue;
    for (const value of values) variants.push((asked) => (asked === name ? value : joined(asked)));
  }
  if (variants.length > MAX_VARIANTS) return { ok: false, failure: { cause: 'bad_request', hop: 'inbound', service, detail: `too many repeated headers to judge (${variants.length - 1} values)` } };
  for (const headers of variants) {
    const decision = intentions.decide({ source, destination: service, http: { path: target.path, method: request.method, headers } });
    if (decision.action === 'deny') return { ok: false, failure: denial(service, source, decision.decidedBy) };
  }
  return { ok: true, forwardPath: target.forward };
}

/** What an HTTP request meets under these intentions now, undefined when allowed: for judging open exchanges and streams again. */
export function deniedNow(intentions: IntentionTable, source: string, service: string, request: HttpRequestHead): MeshFailure | undefined {
  const verdict = authorizeHttp(intentions, source, service, request);
  return verdict.ok ? undefined : verdict.failure;
}

function denial(service: string, source: string, decidedBy: string): MeshFailure {
  return { cause: 'intention_denied', hop: 'inbound', service, policy: decidedBy, detail: `${source || 'an unauthenticated (plaintext) caller'} may not call ${service}` };
}

/** An HTTP/1.1 request's headers from its raw list (Node's req.headers keeps only the first of some repeated headers). */
export function headersOfRaw(rawHeaders: readonly string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const list = headers.get(name);
    if (list) list.push(rawHeaders[i + 1] as string);
    else headers.set(name, [rawHeaders[i + 1] as string]);
  }
  return headers;
}

/** An HTTP/2 stream's headers (pseudo-headers left out). */
export function headersOfH2(h2: Record<string, string | string[] | undefined>): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (const [name, value] of Object.entries(h2)) {
    if (value === undefined || name.startsWith(':')) continue;
    headers.set(name, Array.isArray(value) ? value : [value]);
  }
  return headers;
}
