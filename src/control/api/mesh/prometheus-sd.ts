// GET /v1/mesh/prometheus/targets: Prometheus HTTP service discovery
// (http_sd_configs) over the catalog. By default the agents' own metrics
// entries (meshctl-agent); ?service=NAME (repeatable) lists other services.
// A read-only token is enough (Prometheus sends it as Authorization: Bearer);
// nodes the token may not read are left out, as the catalog API does.

import { checksOn, instancesInStore } from '../../catalog/catalog.ts';
import { targetGroups, type SdInstance } from '../../catalog/prometheus-targets.ts';
import { AGENT_SERVICE } from '../../../config/agent-service.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';

export function addPrometheusSdRoutes(router: Router<Handler>, deps: ApiDeps): void {
  router.add('GET', '/v1/mesh/prometheus/targets', (ctx) => {
    const named = ctx.query.getAll('service').filter((s) => s !== '');
    const services = named.length > 0 ? [...new Set(named)] : [AGENT_SERVICE];
    const instances: SdInstance[] = [];
    for (const name of services) {
      ctx.require({ resource: 'service', access: 'read', name });
      for (const { node, service } of instancesInStore(deps.store, name)) {
        if (!ctx.can({ resource: 'node', access: 'read', name: node.value.Node })) continue;
        instances.push({ node: node.value, service: service.value, nodeChecks: checksOn(deps.store, node.value.Node).map((c) => c.value) });
      }
    }
    return { json: targetGroups(instances, deps.datacenter) };
  });
}
