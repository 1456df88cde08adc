// The classified outcome of one attempt, the only input the retry policy,
// the outlier detector and the balancers get.

export type AttemptOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'connect-failure' }
  | { kind: 'reset' }
  | { kind: 'refused-stream' }
  | { kind: 'timeout' };

/** Envoy's gateway-error class: 502, 503, 504 and every failure to get a response. */
export function isGatewayError(o: AttemptOutcome): boolean {
  return o.kind !== 'response' || o.status === 502 || o.status === 503 || o.status === 504;
}

/** 5xx responses and every failure to get a response. */
export function isServerError(o: AttemptOutcome): boolean {
  return o.kind !== 'response' || o.status >= 500;
}
