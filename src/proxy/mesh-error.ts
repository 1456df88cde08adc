// Errors the mesh itself generates, and how they read. No bare 503s: every
// answer the proxy makes on its own names the cause, the hop, the policy and
// the endpoint, in the x-mesh-error header, the body and the access log.

export type MeshErrorCause =
  | 'no_healthy_endpoints'
  | 'unknown_service'
  | 'connect_failure'
  | 'upstream_timeout'
  | 'request_timeout'
  | 'upstream_reset'
  | 'circuit_breaker'
  | 'local_app_unreachable'
  | 'bad_request'
  | 'bad_hop'
  /** The calling service has no certificate to present (none issued yet, or no local service named as the caller). */
  | 'no_identity'
  /** An intention denies the call. */
  | 'intention_denied';

export interface MeshFailure {
  cause: MeshErrorCause;
  /** Which proxy made the answer: the caller's (outbound) or the callee's (inbound). */
  hop: 'outbound' | 'inbound';
  service: string;
  /** The policy that decided, e.g. 'max_requests', 'per_try_timeout=1s', 'retries=2 exhausted'. */
  policy?: string;
  endpoint?: string;
  detail?: string;
}

export const HEADER = 'x-mesh-error';

export function statusFor(cause: MeshErrorCause): number {
  switch (cause) {
    case 'bad_request':
      return 400;
    case 'intention_denied':
      return 403;
    case 'upstream_timeout':
    case 'request_timeout':
      return 504;
    case 'connect_failure':
    case 'upstream_reset':
    case 'local_app_unreachable':
      return 502;
    default:
      return 503;
  }
}

/** The header value: `cause; hop=outbound; service=web; policy=...; endpoint=...`, printable ASCII only. */
export function headerValue(f: MeshFailure): string {
  const parts = [f.cause, `hop=${f.hop}`, `service=${f.service}`];
  if (f.policy) parts.push(`policy=${f.policy}`);
  if (f.endpoint) parts.push(`endpoint=${f.endpoint}`);
  // Intention names read "web → api"; a header carries "web -> api", and nothing a policy text holds can break the line.
  return parts.join('; ').replace(/→/g, '->').replace(/[^\x20-\x7e]/g, '?');
}

export function bodyText(f: MeshFailure): string {
  return `meshctl: ${f.cause.replace(/_/g, ' ')} (${f.hop} proxy, service ${f.service}${f.endpoint ? `, endpoint ${f.endpoint}` : ''}${f.policy ? `, ${f.policy}` : ''})${f.detail ? `: ${f.detail}` : ''}\n`;
}
