// What the agent registers, built from its config and its checks' current
// states: pure, so anti-entropy can compare it with the catalog's view.

import { formatGoDuration } from '../lib/duration.ts';
import type { HealthStatus } from '../lib/probes.ts';
import { listenAddrOf, type AgentConfig } from './config/agent-config.ts';
import type { CheckSpec, ServiceSpec } from './config/service-spec.ts';
import type { CatalogNodeService } from './server-client.ts';
import { AGENT_SERVICE, AGENT_SERVICE_TAGS, MESH_INTERNAL_META } from '../config/agent-service.ts';

export const AGENT_META_KEY = 'meshctl-agent';

export interface CheckState {
  status: HealthStatus;
  output: string;
}

export const serviceIdOf = (spec: ServiceSpec): string => spec.id;
export const checkIdOf = (spec: ServiceSpec): string => `service:${spec.id}`;
/** Where other hosts' proxies reach this host's proxy, carried in the node's meta. */
export const INBOUND_PORT_META = 'meshctl-inbound-port';

function definitionOf(check: CheckSpec): Record<string, string> {
  if (check.kind === 'ttl') return { TTL: formatGoDuration(check.ttlMs) };
  const timing = { Interval: formatGoDuration(check.intervalMs), Timeout: formatGoDuration(check.timeoutMs) };
  return check.kind === 'http' ? { HTTP: check.url, ...timing } : { TCP: check.address, ...timing };
}

export function checkBody(config: AgentConfig, spec: ServiceSpec, state: CheckState) {
  const check = spec.check as CheckSpec;
  return {
    Node: config.nodeName,
    CheckID: checkIdOf(spec),
    Name: `Service '${spec.id}' check`,
    Status: state.status,
    Output: state.output,
    ServiceID: serviceIdOf(spec),
    Type: check.kind,
    Definition: definitionOf(check),
  };
}

export function serviceBody(spec: ServiceSpec) {
  return {
    ID: serviceIdOf(spec),
    Service: spec.name,
    Tags: spec.tags,
    Meta: spec.meta,
    Address: spec.address,
    Port: spec.port,
    Weights: { Passing: spec.weight, Warning: 1 },
  };
}

/**
 * The agent's own catalog entry: its metrics port on the host's address, so
 * Prometheus discovers every agent (consul_sd_configs or the server's http_sd).
 * One per node; it has no check (Prometheus's `up` says whether it answers).
 */
export function agentServiceSpec(config: Pick<AgentConfig, 'advertiseAddr'>, metricsPort: number, version: string): ServiceSpec {
  return { id: AGENT_SERVICE, name: AGENT_SERVICE, port: metricsPort, address: config.advertiseAddr, tags: [...AGENT_SERVICE_TAGS], meta: { [MESH_INTERNAL_META]: 'true', version, metrics_path: '/metrics' }, weight: 1 };
}

/**
 * One catalog registration per service: the node, the service and its check.
 * `own` are the agent's own entries (agentServiceSpec), registered beside the host's services.
 */
export function registrations(config: AgentConfig, checks: ReadonlyMap<string, CheckState>, version: string, own: readonly ServiceSpec[] = []) {
  const inboundPort = String(listenAddrOf(config.inboundAddr).port);
  const node = { Node: config.nodeName, Address: config.advertiseAddr, NodeMeta: { [AGENT_META_KEY]: version, [INBOUND_PORT_META]: inboundPort } };
  const services = [...config.services, ...own];
  if (services.length === 0) return [node];
  return services.map((spec) => ({
    ...node,
    Service: serviceBody(spec),
    ...(spec.check ? { Check: checkBody(config, spec, checks.get(checkIdOf(spec)) ?? { status: 'critical', output: '' }) } : {}),
  }));
}

export interface CatalogView {
  address: string;
  services: Record<string, CatalogNodeService>;
  checks: Array<{ CheckID: string; Status: string; ServiceID: string }>;
}

/** What anti-entropy must do to make the catalog match this host. */
export function reconcile(config: AgentConfig, checks: ReadonlyMap<string, CheckState>, view: CatalogView | undefined, own: readonly ServiceSpec[] = []) {
  if (!view) return { registerAll: true, deregister: [] as string[] };
  const wanted = new Map([...config.services, ...own].map((s) => [serviceIdOf(s), s]));
  const deregister = Object.keys(view.services).filter((id) => !wanted.has(id));
  let registerAll = view.address !== config.advertiseAddr;
  for (const [id, spec] of wanted) {
    const actual = view.services[id];
    const body = serviceBody(spec);
    if (
      !actual ||
      actual.Service !== body.Service ||
      actual.Port !== body.Port ||
      actual.Address !== body.Address ||
      JSON.stringify(actual.Tags) !== JSON.stringify(body.Tags) ||
      JSON.stringify(actual.Meta) !== JSON.stringify(body.Meta) ||
      actual.Weights?.Passing !== body.Weights.Passing
    ) {
      registerAll = true;
    }
    if (spec.check) {
      const check = view.checks.find((c) => c.CheckID === checkIdOf(spec));
      const state = checks.get(checkIdOf(spec));
      if (!check || (state && check.Status !== state.status)) registerAll = true;
    }
  }
  const wantedChecks = new Set(config.services.filter((s) => s.check).map(checkIdOf));
  if (view.checks.some((c) => c.ServiceID !== '' && !wantedChecks.has(c.CheckID))) registerAll = true;
  return { registerAll, deregister };
}
