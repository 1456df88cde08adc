// What every load balancer is. Balancers are pure decisions: no sockets, no
// timers of their own; time and randomness come in from the caller, so every
// policy is tested with a fake clock and a seeded random source.

export interface Endpoint {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
}

export interface PickContext {
  /** ring_hash: the value hashed (a header's value, or the source IP); absent: a random pick. Other policies ignore it. */
  readonly hashKey?: string;
}

export interface Balancer {
  readonly policy: BalancerPolicy;
  /**
   * Replaces the endpoint set (catalog change); state of endpoints that stay
   * (EWMA, outstanding counts, ring positions) is kept. Must not disturb
   * in-flight accounting: onEnd for an endpoint that left is ignored safely.
   */
  update(endpoints: readonly Endpoint[]): void;
  /** An endpoint not in `exclude` (ids of ejected or already-tried endpoints), or undefined when none is left. */
  pick(ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined;
  /** A request (or for TCP, a connection) starts/ends on an endpoint. latencyMs and ok feed load-aware policies. */
  onStart(endpointId: string): void;
  onEnd(endpointId: string, latencyMs: number, ok: boolean): void;
}

export type BalancerPolicy = 'round_robin' | 'weighted_round_robin' | 'least_request' | 'random' | 'p2c_ewma' | 'ring_hash';

export const BALANCER_POLICIES: readonly BalancerPolicy[] = Object.freeze([
  'round_robin',
  'weighted_round_robin',
  'least_request',
  'random',
  'p2c_ewma',
  'ring_hash',
]);

/**
 * The weight a policy uses. A weight that is not a positive finite number
 * (0 when a source leaves it unset) counts as 1: an endpoint in the set is
 * meant to get traffic, and leaving the set is how it stops getting any.
 */
export function weightOf(endpoint: Endpoint): number {
  const w = endpoint.weight;
  return Number.isFinite(w) && w > 0 ? w : 1;
}
