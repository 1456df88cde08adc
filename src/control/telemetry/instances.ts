// MESHED/INSTANCES for `meshctl stat`: every catalog service with how many of
// its instances are healthy (every check on it and on its node passing, as
// /v1/health/service?passing counts them) out of how many are registered.
//
// Asked on every stats read (the dashboard polls each second), so it is one
// pass over the checks and one over the services, whatever the catalog's size:
// asking the catalog per service name was a pass over every service per name.

import { getNode, listAllChecks, listAllServices, nodeOfServiceKey, type Reader } from '../catalog/catalog.ts';
import { allPassing, checksForInstance } from '../catalog/health.ts';
import type { CheckRecord } from '../catalog/types.ts';
import { isMeshInternalService } from '../../config/agent-service.ts';

interface InstanceCount {
  healthy: number;
  total: number;
}

/** only: count that one service and no other (a `?service=` read). */
export function instanceHealth(store: Reader, only?: string): Map<string, InstanceCount> {
  // The checks grouped by node once; an instance is judged by the catalog's own rule (health.ts).
  const checksByNode = new Map<string, CheckRecord[]>();
  for (const { value: check } of listAllChecks(store)) {
    const checks = checksByNode.get(check.Node);
    if (checks) checks.push(check);
    else checksByNode.set(check.Node, [check]);
  }

  const out = new Map<string, InstanceCount>();
  const nodeExists = new Map<string, boolean>();
  for (const { key, value: service } of listAllServices(store)) {
    if (only !== undefined && service.Service !== only) continue;
    // The agents' own entry (meshctl-agent, their metrics) is no mesh service: it carries no traffic to show.
    if (isMeshInternalService(service.Service)) continue;
    const node = nodeOfServiceKey(key);
    let exists = nodeExists.get(node);
    if (exists === undefined) nodeExists.set(node, (exists = getNode(store, node) !== undefined));
    let count = out.get(service.Service);
    if (!count) out.set(service.Service, (count = { healthy: 0, total: 0 }));
    // A service left under a node that is gone is listed, as the catalog's service list does, with no instance.
    if (!exists) continue;
    count.total += 1;
    if (allPassing(checksForInstance(checksByNode.get(node) ?? [], service.ID))) count.healthy += 1;
  }
  return out;
}
