// What every load balancer is. Balancers are pure: no sockets, no timers.

export interface Endpoint {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
}

export interface PickContext {
  /** ring_hash: the value hashed (a header's value, or the source IP); absent: a random pick. */
  readonly hashKey?: string;
}

export interface Balancer {
  readonly policy: BalancerPolicy;
  /** Replaces the endpoint set; state of endpoints that stay is kept. */
  update(endpoints: readonly Endpoint[]): void;
  /** An endpoint not in exclude, or undefined when none is left. */
  pick(ctx: PickContext, exclude?: ReadonlySet<string>): Endpoint | undefined;
  onStart(endpointId: string): void;
  onEnd(endpointId: string, latencyMs: number, ok: boolean): void;
}

export type BalancerPolicy = 'round_robin' | 'weighted_round_robin' | 'least_request' | 'random' | 'p2c_ewma' | 'ring_hash';
export const BALANCER_POLICIES: readonly BalancerPolicy[] = ['round_robin', 'weighted_round_robin', 'least_request', 'random', 'p2c_ewma', 'ring_hash'];
