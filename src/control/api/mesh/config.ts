// GET /v1/mesh/config: every mesh configuration entry (service defaults,
// routes, intentions…) in one snapshot, as a blocking query. Agents watch it
// and apply a whole snapshot at once. Entries are stored under mesh/config/
// <kind>/<name>; the kinds and their schemas arrive with the data plane.

import { blockingRead } from '../blocking.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';

export const CONFIG_PREFIX = 'mesh/config/';

export function addMeshConfigRoutes(router: Router<Handler>, deps: ApiDeps): void {
  router.add('GET', '/v1/mesh/config', (ctx) =>
    blockingRead(ctx, deps.store, { prefixes: [CONFIG_PREFIX] }, deps.random, () => {
      ctx.require({ resource: 'agent', access: 'read' });
      const entries = deps.store.list(CONFIG_PREFIX).map((e) => ({ ...(e.value as object), CreateIndex: e.createRevision, ModifyIndex: e.modRevision }));
      return { json: { Entries: entries } };
    }),
  );
}
