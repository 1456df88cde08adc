// Catalog records as the Consul API shows them (the Go api package's structs,
// field for field). Lists are [] and never null; node TaggedAddresses is a
// string map, as Prometheus's Go decoder requires.

import type { StoredEntry } from '../../store/store.ts';
import type { CheckRecord, NodeRecord, ServiceRecord } from '../../catalog/types.ts';

const indexes = (entry: StoredEntry) => ({ CreateIndex: entry.createRevision, ModifyIndex: entry.modRevision });

export function nodeOut(entry: StoredEntry<NodeRecord>) {
  const n = entry.value;
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: { lan: n.Address, lan_ipv4: n.Address, wan: n.Address, wan_ipv4: n.Address, ...n.TaggedAddresses },
    Meta: n.Meta,
    ...indexes(entry),
  };
}

/** api.AgentService, as in /v1/agent/services and /v1/health/service. */
export function agentServiceOut(entry: StoredEntry<ServiceRecord>, datacenter: string) {
  const s = entry.value;
  return {
    ...(s.Kind ? { Kind: s.Kind } : {}),
    ID: s.ID,
    Service: s.Service,
    Tags: s.Tags,
    Meta: s.Meta,
    Port: s.Port,
    Address: s.Address,
    ...(s.SocketPath ? { SocketPath: s.SocketPath } : {}),
    TaggedAddresses: s.TaggedAddresses,
    Weights: s.Weights,
    EnableTagOverride: s.EnableTagOverride,
    ...(s.Proxy ? { Proxy: s.Proxy } : {}),
    ...(s.Connect ? { Connect: s.Connect } : {}),
    Datacenter: datacenter,
    ...indexes(entry),
  };
}

/** api.CatalogService, as in /v1/catalog/service/:name. */
export function catalogServiceOut(node: StoredEntry<NodeRecord>, entry: StoredEntry<ServiceRecord>) {
  const n = nodeOut(node);
  const s = entry.value;
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: n.TaggedAddresses,
    NodeMeta: n.Meta,
    ServiceKind: s.Kind,
    ServiceID: s.ID,
    ServiceName: s.Service,
    ServiceTags: s.Tags,
    ServiceAddress: s.Address,
    ServiceTaggedAddresses: s.TaggedAddresses,
    ServiceWeights: s.Weights,
    ServiceMeta: s.Meta,
    ServicePort: s.Port,
    ServiceSocketPath: s.SocketPath,
    ServiceEnableTagOverride: s.EnableTagOverride,
    ServiceProxy: s.Proxy ?? {},
    ServiceConnect: s.Connect ?? {},
    ...indexes(entry),
  };
}

/** api.HealthCheck. ServiceName and ServiceTags come from the check's service. */
export function checkOut(entry: StoredEntry<CheckRecord>, service: ServiceRecord | undefined) {
  const c = entry.value;
  return {
    Node: c.Node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: service?.Service ?? '',
    ServiceTags: service?.Tags ?? [],
    Type: c.Type,
    Interval: c.Definition.Interval ?? '',
    Timeout: c.Definition.Timeout ?? '',
    ExposedPort: 0,
    Definition: c.Definition,
    ...indexes(entry),
  };
}
