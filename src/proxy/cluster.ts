// One destination service as this proxy sees it: its endpoints (the passing
// instances, each reached through the proxy in front of it), its balancer,
// outlier detector, concurrency limits and retry budget, and its resolved
// service defaults. State (EWMA, ejections, counters) survives endpoint
// updates, so a catalog change never resets what the proxy has learned.

import type { Clock, Random } from '../lib/clock.ts';
import type { ResolvedServiceDefaults } from '../config/service-defaults.ts';
import { createBalancer } from './balance/index.ts';
import type { Balancer, Endpoint } from './balance/types.ts';
import { ConcurrencyLimits } from './resilience/limits.ts';
import { OutlierDetector } from './resilience/outlier.ts';
import { RetryBudget } from './resilience/retry-budget.ts';
import type { ResilienceEvent } from './telemetry/records.ts';

export interface ClusterEndpoint extends Endpoint {
  /** The instance's service ID on its node, named in the hop so the peer proxy picks the right local instance. */
  readonly instanceId: string;
  readonly node: string;
  /** host:port of the peer proxy's inbound listener. */
  readonly hopHost: string;
  readonly hopPort: number;
}

export interface EndpointSource {
  node: string;
  id: string;
  address: string;
  port: number;
  weight: number;
  inboundPort: number;
  /** What route subsets select on. */
  tags?: readonly string[];
  meta?: Readonly<Record<string, string>>;
}

export class Cluster {
  readonly service: string;
  defaults: ResolvedServiceDefaults;
  balancer: Balancer;
  outlier: OutlierDetector;
  limits: ConcurrencyLimits;
  budget: RetryBudget;
  endpoints: ReadonlyMap<string, ClusterEndpoint> = new Map();
  private readonly clock: Clock;
  private readonly random: Random;
  /** Resilience decisions (retries, ejections, overflows), for metrics. */
  readonly events: (event: ResilienceEvent) => void;

  constructor(service: string, defaults: ResolvedServiceDefaults, deps: { clock: Clock; random: Random; events?: (event: ResilienceEvent) => void }) {
    this.service = service;
    this.defaults = defaults;
    this.clock = deps.clock;
    this.random = deps.random;
    this.events = deps.events ?? (() => {});
    this.balancer = createBalancer(defaults.loadBalancer.policy, deps);
    this.outlier = this.makeOutlier(defaults);
    this.limits = this.makeLimits(defaults);
    this.budget = this.makeBudget(defaults);
  }

  /** Applies new instances and defaults; in-flight requests keep the endpoint objects they hold. */
  update(instances: readonly EndpointSource[], defaults: ResolvedServiceDefaults): void {
    const previous = this.defaults;
    this.defaults = defaults;
    if (previous.loadBalancer.policy !== defaults.loadBalancer.policy) this.balancer = createBalancer(defaults.loadBalancer.policy, { clock: this.clock, random: this.random });
    if (JSON.stringify(previous.outlierDetection) !== JSON.stringify(defaults.outlierDetection)) this.outlier = this.makeOutlier(defaults);
    if (JSON.stringify(previous.circuitBreaker) !== JSON.stringify(defaults.circuitBreaker)) this.limits = this.makeLimits(defaults);
    if (JSON.stringify(previous.retries.budget) !== JSON.stringify(defaults.retries.budget)) this.budget = this.makeBudget(defaults);
    const endpoints = new Map<string, ClusterEndpoint>();
    for (const i of instances) {
      const id = `${i.node}/${i.id}`;
      endpoints.set(id, { id, instanceId: i.id, node: i.node, address: i.address, port: i.port, weight: i.weight, hopHost: i.address, hopPort: i.inboundPort });
    }
    this.endpoints = endpoints;
    this.balancer.update([...endpoints.values()]);
    this.outlier.setEndpoints([...endpoints.keys()]);
  }

  /** An endpoint for the next attempt, skipping ejected ones and those already tried. */
  pick(hashKey: string | undefined, tried: ReadonlySet<string>): ClusterEndpoint | undefined {
    const exclude = new Set([...this.outlier.effectiveExclusions(), ...tried]);
    let picked = this.balancer.pick(hashKey === undefined ? {} : { hashKey }, exclude);
    // Every endpoint tried: a retry may go back to one rather than fail (never to an ejected one).
    if (!picked && tried.size > 0) picked = this.balancer.pick(hashKey === undefined ? {} : { hashKey }, this.outlier.effectiveExclusions());
    return picked ? this.endpoints.get(picked.id) : undefined;
  }

  private makeOutlier(d: ResolvedServiceDefaults): OutlierDetector {
    const o = d.outlierDetection;
    const detector = new OutlierDetector({
      consecutiveErrors: o.enabled ? o.consecutiveErrors : Number.MAX_SAFE_INTEGER,
      baseEjectionMs: o.baseEjectionMs,
      maxEjectionPercent: o.maxEjectionPercent,
      clock: this.clock,
      onEject: (endpoint) => this.events({ kind: 'ejection', service: this.service, endpoint }),
    });
    detector.setEndpoints([...this.endpoints.keys()]);
    return detector;
  }

  private makeLimits(d: ResolvedServiceDefaults): ConcurrencyLimits {
    return new ConcurrencyLimits(d.circuitBreaker);
  }

  private makeBudget(d: ResolvedServiceDefaults): RetryBudget {
    return new RetryBudget({ retryRatio: d.retries.budget.retryRatio, minRetriesPerSecond: d.retries.budget.minRetriesPerSecond, ttlMs: 10_000, clock: this.clock });
  }
}
