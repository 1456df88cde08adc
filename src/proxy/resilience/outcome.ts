// The classified outcome of one attempt: the only thing the retry policy,
// the outlier detector and the balancers learn about it. The mechanism
// (src/proxy/http/attempt.ts) does the classifying, so these stay pure.

export type AttemptOutcome =
  /** The upstream answered, with any status. */
  | { kind: 'response'; status: number }
  /** Refused, unreachable, or the connect timeout fired: the request never left. */
  | { kind: 'connect-failure' }
  /** The connection was reset or closed before a full response. */
  | { kind: 'reset' }
  /** HTTP/2 REFUSED_STREAM: the peer promises it did not process the request. */
  | { kind: 'refused-stream' }
  /** The per-try timeout fired. */
  | { kind: 'timeout' };

const is5xx = (status: number): boolean => status >= 500 && status <= 599;

/**
 * Envoy's gateway-error class: 502, 503, 504, and every attempt that got no
 * response at all (Envoy counts a reset or connect failure as the 5xx it becomes).
 */
export function isGatewayError(o: AttemptOutcome): boolean {
  return o.kind !== 'response' || o.status === 502 || o.status === 503 || o.status === 504;
}

/** Envoy's 5xx class: any 5xx response and every attempt that got no response. */
export function isServerError(o: AttemptOutcome): boolean {
  return o.kind !== 'response' || is5xx(o.status);
}

/** A short name for logs and decision reasons: '503', 'reset', 'timeout'. */
export function outcomeLabel(o: AttemptOutcome): string {
  return o.kind === 'response' ? String(o.status) : o.kind;
}
