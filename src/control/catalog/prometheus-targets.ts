// Catalog instances → Prometheus HTTP service discovery target groups, pure.
// The labels are the ones Prometheus's consul_sd_configs sets
// (discovery/consul/consul.go), so one set of relabel_configs works with
// either discovery: a Prometheus built without Consul SD (Debian's) uses
// http_sd_configs against /v1/mesh/prometheus/targets and sees the same
// __meta_consul_* labels as an upstream build's consul_sd_configs.

import { joinHostPort } from '../../lib/net/host-port.ts';
import { aggregateStatus, checksForInstance } from './health.ts';
import type { CheckRecord, NodeRecord, ServiceRecord } from './types.ts';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface SdInstance {
  node: NodeRecord;
  service: ServiceRecord;
  /** The node's checks (node-level and every service's); the ones bearing on this instance are picked here. */
  nodeChecks: readonly CheckRecord[];
}

/** Prometheus's strutil.SanitizeLabelName: anything outside [a-zA-Z0-9_] becomes "_". */
export const sanitizeLabelName = (name: string): string => name.replace(/[^a-zA-Z0-9_]/g, '_');

/** host:port, with an IPv6 host in brackets (Go's net.JoinHostPort). */

/** One group per instance: its address (the service's, else the node's) and Consul SD's labels. */
export function targetGroups(instances: readonly SdInstance[], datacenter: string): TargetGroup[] {
  return instances.map(({ node, service, nodeChecks }) => {
    const labels: Record<string, string> = {
      __meta_consul_address: node.Address,
      __meta_consul_dc: datacenter,
      __meta_consul_health: aggregateStatus(checksForInstance(nodeChecks, service.ID)),
      __meta_consul_node: node.Node,
      __meta_consul_service: service.Service,
      __meta_consul_service_address: service.Address,
      __meta_consul_service_id: service.ID,
      __meta_consul_service_port: String(service.Port),
      // Consul SD wraps the tags in its separator so that a regex can match ",tag," anywhere.
      __meta_consul_tags: `,${service.Tags.join(',')},`,
    };
    for (const [key, value] of Object.entries(node.Meta)) labels[`__meta_consul_metadata_${sanitizeLabelName(key)}`] = value;
    for (const [key, value] of Object.entries(service.Meta)) labels[`__meta_consul_service_metadata_${sanitizeLabelName(key)}`] = value;
    for (const [key, value] of Object.entries(node.TaggedAddresses)) labels[`__meta_consul_tagged_address_${sanitizeLabelName(key)}`] = value;
    return { targets: [joinHostPort(service.Address || node.Address, service.Port)], labels };
  });
}
