// PUT /v1/mesh/heartbeat/:node?ttl=20s: a meshctl agent says it is alive.
// The node's "Serf Health Status" check becomes a TTL check: passing now,
// critical when no heartbeat comes within ttl. Agents send one every ttl/2,
// so a dead agent's node leaves ?passing within two heartbeat intervals.

import { parseGoDuration } from '../../../lib/duration.ts';
import { MeshError, badRequest } from '../../../lib/errors.ts';
import { getNode, upsertCheck } from '../../catalog/catalog.ts';
import { NODE_HEALTH_CHECK_ID, NODE_HEALTH_CHECK_NAME, type CheckRecord } from '../../catalog/types.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { formatGoDuration } from '../../../lib/duration.ts';

const MIN_TTL_MS = 1000;

export function addHeartbeatRoutes(router: Router<Handler>, deps: ApiDeps): void {
  router.add('PUT', '/v1/mesh/heartbeat/:node', async (ctx) => {
    const node = ctx.params.node as string;
    ctx.require({ resource: 'node', access: 'write', name: node });
    const ttlMs = parseGoDuration(ctx.query.get('ttl') ?? '20s');
    if (ttlMs === undefined || ttlMs < MIN_TTL_MS) throw badRequest(`Invalid ttl "${ctx.query.get('ttl')}": give a duration of at least 1s, such as 20s`);
    if (!getNode(deps.store, node)) {
      throw new MeshError('MESH_E_NOT_FOUND', `node "${node}" is not registered`, { hint: 'register the node with PUT /v1/catalog/register first' });
    }
    const check: CheckRecord = {
      Node: node,
      CheckID: NODE_HEALTH_CHECK_ID,
      Name: NODE_HEALTH_CHECK_NAME,
      Status: 'passing',
      Notes: '',
      Output: 'Agent alive and reachable',
      ServiceID: '',
      Type: 'ttl',
      Definition: { TTL: formatGoDuration(ttlMs) },
    };
    await deps.store.transact((txn) => {
      upsertCheck(txn, check);
    });
    deps.monitor.track(check);
    return { json: { Node: node, TTL: formatGoDuration(ttlMs) } };
  });
}
