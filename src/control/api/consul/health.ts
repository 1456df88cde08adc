// /v1/health/*: instances with their checks. ?passing keeps an instance only
// when every check bearing on it passes, the node's own health check included,
// so a node whose agent stopped heartbeating drops out.

import { badRequest } from '../../../lib/errors.ts';
import { checksOn, getNode, getService, instancesInStore, listAllChecks } from '../../catalog/catalog.ts';
import { allPassing, checksForInstance } from '../../catalog/health.ts';
import { topics } from '../../catalog/keys.ts';
import { HEALTH_STATUSES, type CheckRecord } from '../../catalog/types.ts';
import type { StoredEntry } from '../../store/store.ts';
import { blockingRead, readableBy } from '../blocking.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { flag, nodeMetaFilter, refuseFilter, tagFilter } from './filters.ts';
import { agentServiceOut, checkOut, nodeOut } from './shapes.ts';

export function addHealthRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { store } = deps;
  const out = (entry: StoredEntry<CheckRecord>) =>
    checkOut(entry, entry.value.ServiceID ? getService(store, entry.value.Node, entry.value.ServiceID)?.value : undefined);

  router.add('GET', '/v1/health/service/:service', (ctx) => {
    const name = ctx.params.service as string;
    return blockingRead(ctx, store, { exact: [topics.service(name)] }, deps.random, () => {
      refuseFilter(ctx.query);
      ctx.require({ resource: 'service', access: 'read', name });
      const passingOnly = flag(ctx.query, 'passing');
      const meta = nodeMetaFilter(ctx.query);
      const tags = tagFilter(ctx.query);
      const result = [];
      const checksByNode = new Map<string, StoredEntry<CheckRecord>[]>();
      for (const { node, service } of instancesInStore(store, name)) {
        if (!meta(node.value) || !tags(service.value.Tags)) continue;
        let nodeChecks = checksByNode.get(node.value.Node);
        if (!nodeChecks) {
          nodeChecks = checksOn(store, node.value.Node);
          checksByNode.set(node.value.Node, nodeChecks);
        }
        const checks = checksForInstance(nodeChecks.map((c) => c.value), service.value.ID);
        if (passingOnly && !allPassing(checks)) continue;
        const relevant = nodeChecks.filter((c) => c.value.ServiceID === '' || c.value.ServiceID === service.value.ID);
        result.push({ Node: nodeOut(node), Service: agentServiceOut(service, deps.datacenter), Checks: relevant.map(out) });
      }
      return { json: result };
    });
  });

  router.add('GET', '/v1/health/checks/:service', (ctx) => {
    const name = ctx.params.service as string;
    return blockingRead(ctx, store, { exact: [topics.service(name)] }, deps.random, () => {
      refuseFilter(ctx.query);
      ctx.require({ resource: 'service', access: 'read', name });
      const meta = nodeMetaFilter(ctx.query);
      const result = [];
      for (const { node, service } of instancesInStore(store, name)) {
        if (!meta(node.value)) continue;
        for (const check of checksOn(store, node.value.Node)) if (check.value.ServiceID === service.value.ID) result.push(out(check));
      }
      return { json: result };
    });
  });

  router.add('GET', '/v1/health/node/:node', (ctx) => {
    const name = ctx.params.node as string;
    return blockingRead(ctx, store, { exact: [topics.node(name)] }, deps.random, () => {
      refuseFilter(ctx.query);
      ctx.require({ resource: 'node', access: 'read', name });
      return { json: getNode(store, name) ? checksOn(store, name).map(out) : [] };
    });
  });

  router.add('GET', '/v1/health/state/:state', (ctx) => {
    const state = ctx.params.state as string;
    if (state !== 'any' && !(HEALTH_STATUSES as readonly string[]).includes(state)) {
      throw badRequest(`Invalid state "${state}": use any, passing, warning or critical`);
    }
    return blockingRead(ctx, store, { exact: [topics.checks] }, deps.random, () => {
      refuseFilter(ctx.query);
      const meta = nodeMetaFilter(ctx.query);
      const matching = listAllChecks(store).filter((c) => {
        if (state !== 'any' && c.value.Status !== state) return false;
        const node = getNode(store, c.value.Node);
        return node !== undefined && meta(node.value);
      });
      const { visible, headers } = readableBy(ctx, matching, (c) => ({ resource: 'node', access: 'read', name: c.value.Node }));
      return { json: visible.map(out), headers };
    });
  });
}
