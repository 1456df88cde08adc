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
  header: (lowercaseName: string) => string | undefined;
}

export type HttpVerdict = { ok: true; forwardPath: string } | { ok: false; failure: MeshFailure };

/** A TCP connection, or any hop, judged at connect: undefined when allowed. */
export function authorizeConnection(intentions: IntentionTable, source: string, service: string): MeshFailure | undefined {
  const decision = intentions.decide({ source, destination: service });
  return decision.action === 'allow' ? undefined : denial(service, source, decision.decidedBy);
}

export function authorizeHttp(intentions: IntentionTable, source: string, service: string, request: HttpRequestHead): HttpVerdict {
  const target = normalizeRequestTarget(request.url);
  if (!target.ok) return { ok: false, failure: { cause: 'bad_request', hop: 'inbound', service, detail: target.reason } };
  const decision = intentions.decide({ source, destination: service, http: { path: target.path, method: request.method, headers: request.header } });
  if (decision.action === 'deny') return { ok: false, failure: denial(service, source, decision.decidedBy) };
  return { ok: true, forwardPath: target.forward };
}

function denial(service: string, source: string, decidedBy: string): MeshFailure {
  return { cause: 'intention_denied', hop: 'inbound', service, policy: decidedBy, detail: `${source || 'an unauthenticated (plaintext) caller'} may not call ${service}` };
}

/** A header of a Node request as one string (repeated headers joined as HTTP allows). */
export function headerOf(headers: Record<string, string | string[] | undefined>): (name: string) => string | undefined {
  return (name) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
}
