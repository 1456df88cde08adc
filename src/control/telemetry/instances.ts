// MESHED/INSTANCES for `meshctl stat`: every catalog service with how many of
// its instances are healthy (every check on it and on its node passing, as
// /v1/health/service?passing counts them) out of how many are registered.

import { checksOn, instancesInStore, listAllServices } from '../catalog/catalog.ts';
import { allPassing, checksForInstance } from '../catalog/health.ts';
import type { CheckRecord } from '../catalog/types.ts';
import type { StoredEntry } from '../store/store.ts';
import type { Store } from '../store/store.ts';
import { isMeshInternalService } from '../../config/agent-service.ts';

export function instanceHealth(store: Store): Map<string, { healthy: number; total: number }> {
  // The agents' own entry (meshctl-agent, their metrics) is no mesh service: it carries no traffic to show.
  const names = new Set(listAllServices(store).map((s) => s.value.Service).filter((name) => !isMeshInternalService(name)));
  const checksByNode = new Map<string, StoredEntry<CheckRecord>[]>();
  const out = new Map<string, { healthy: number; total: number }>();
  for (const name of names) {
    let healthy = 0;
    let total = 0;
    for (const { node, service } of instancesInStore(store, name)) {
      let nodeChecks = checksByNode.get(node.value.Node);
      if (!nodeChecks) {
        nodeChecks = checksOn(store, node.value.Node);
        checksByNode.set(node.value.Node, nodeChecks);
      }
      total += 1;
      if (allPassing(checksForInstance(nodeChecks.map((c) => c.value), service.value.ID))) healthy += 1;
    }
    out.set(name, { healthy, total });
  }
  return out;
}
