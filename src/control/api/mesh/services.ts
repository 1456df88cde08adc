// GET /v1/mesh/services: every service the mesh has seen, with its virtual
// IP, as a blocking query. Agents in transparent mode watch it: it names the
// services their apps may call by name (<service>.mesh) or by VIP.

import { vipFromIndex } from '../../../dns/vip.ts';
import { VIP_PREFIX } from '../../catalog/vips.ts';
import { blockingRead } from '../blocking.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';

export function addMeshServicesRoutes(router: Router<Handler>, deps: ApiDeps): void {
  router.add('GET', '/v1/mesh/services', (ctx) =>
    blockingRead(ctx, deps.store, { prefixes: [VIP_PREFIX] }, deps.random, () => {
      ctx.require({ resource: 'agent', access: 'read' });
      const services = deps.store.list<number>(VIP_PREFIX).map((e) => ({ Name: decodeURIComponent(e.key.slice(VIP_PREFIX.length)), VirtualIP: vipFromIndex(e.value) }));
      return { json: services };
    }),
  );
}
