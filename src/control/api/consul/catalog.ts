// /v1/catalog/*: registrations as external tools and meshctl agents make them.

import { badRequest } from '../../../lib/errors.ts';
import {
  getNode,
  getService,
  nodeOfServiceKey,
  instancesInStore,
  listAllServices,
  listNodes,
  removeCheck,
  removeNode,
  removeService,
  servicesOn,
  upsertCheck,
  upsertNode,
  upsertService,
} from '../../catalog/catalog.ts';
import { topics } from '../../catalog/keys.ts';
import type { CheckRecord } from '../../catalog/types.ts';
import { blockingRead, readableBy } from '../blocking.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { decodeStruct, parseJsonBody, type Decoded } from './decode.ts';
import { nodeMetaFilter, refuseFilter, tagFilter } from './filters.ts';
import { checkFromCatalog, serviceFromCatalog } from './registration.ts';
import { agentServiceOut, catalogServiceOut, nodeOut } from './shapes.ts';
import { catalogDeregisterSpec, catalogRegisterSpec } from './specs.ts';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';

export function addCatalogRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { store, monitor } = deps;

  router.add('PUT', '/v1/catalog/register', async (ctx) => {
    const d = decodeStruct(catalogRegisterSpec, parseJsonBody(await ctx.body()), '');
    const nodeName = (d.Node as string | undefined) ?? '';
    if (nodeName === '') throw badRequest('Must provide node');
    const address = (d.Address as string | undefined) ?? '';
    const dc = (d.Datacenter as string | undefined) || deps.datacenter;
    if (dc !== deps.datacenter) throw badRequest(`No path to datacenter "${dc}": this server serves "${deps.datacenter}"`);
    const nodeId = (d.ID as string | undefined) ?? '';
    if (nodeId !== '' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nodeId)) {
      throw badRequest(`Invalid node ID "${nodeId}": must be a UUID`);
    }
    ctx.require({ resource: 'node', access: 'write', name: nodeName });
    const service = d.Service && Object.keys(d.Service as Decoded).length > 0 ? serviceFromCatalog(d.Service as Decoded) : undefined;
    if (service) ctx.require({ resource: 'service', access: 'write', name: service.Service, node: nodeName });
    const checkBodies: Decoded[] = [];
    if (d.Check && Object.keys(d.Check as Decoded).length > 0) checkBodies.push(d.Check as Decoded);
    checkBodies.push(...((d.Checks as Decoded[] | undefined) ?? []));
    const checks = checkBodies.map((body) => checkFromCatalog(body, nodeName, ''));
    const skipNodeUpdate = d.SkipNodeUpdate === true;
    const { result } = await store.transact((txn) => {
      const existing = getNode(txn, nodeName);
      if (!existing || !skipNodeUpdate) {
        if (address === '') throw badRequest('Must provide address');
        if (address.includes(' ') || (address.includes(':') && isIP(address) !== 6)) throw badRequest(`Invalid address "${address}"`);
        upsertNode(txn, {
          ID: nodeId || existing?.value.ID || randomUUID(),
          Node: nodeName,
          Address: address,
          Datacenter: dc,
          TaggedAddresses: (d.TaggedAddresses as Record<string, string> | undefined) ?? {},
          Meta: (d.NodeMeta as Record<string, string> | undefined) ?? {},
        });
      }
      if (service) upsertService(txn, nodeName, service);
      const stored: CheckRecord[] = [];
      for (const check of checks) {
        if (check.ServiceID !== '' && !getService(txn, nodeName, check.ServiceID)) {
          throw badRequest(`Check ${check.CheckID} refers to ServiceID "${check.ServiceID}", which is not registered on node "${nodeName}"`);
        }
        upsertCheck(txn, check);
        stored.push(check);
      }
      return stored;
    });
    for (const check of result) monitor.track(check);
    return { json: true };
  });

  router.add('PUT', '/v1/catalog/deregister', async (ctx) => {
    const d = decodeStruct(catalogDeregisterSpec, parseJsonBody(await ctx.body()), '');
    const nodeName = (d.Node as string | undefined) ?? '';
    if (nodeName === '') throw badRequest('Must provide node');
    ctx.require({ resource: 'node', access: 'write', name: nodeName });
    const serviceId = (d.ServiceID as string | undefined) ?? '';
    const checkId = (d.CheckID as string | undefined) ?? '';
    if (serviceId) {
      const service = getService(store, nodeName, serviceId);
      if (service) ctx.require({ resource: 'service', access: 'write', name: service.value.Service, node: nodeName });
    }
    await store.transact((txn) => {
      if (serviceId) removeService(txn, nodeName, serviceId);
      if (checkId) removeCheck(txn, nodeName, checkId);
      if (!serviceId && !checkId) removeNode(txn, nodeName);
    });
    if (checkId) monitor.untrack(nodeName, checkId);
    return { json: true };
  });

  router.add('GET', '/v1/catalog/datacenters', () => ({ json: [deps.datacenter] }));

  router.add('GET', '/v1/catalog/nodes', (ctx) =>
    blockingRead(ctx, store, { exact: [topics.nodes] }, deps.random, () => {
      refuseFilter(ctx.query);
      const meta = nodeMetaFilter(ctx.query);
      const matching = listNodes(store).filter((n) => meta(n.value));
      const { visible, headers } = readableBy(ctx, matching, (n) => ({ resource: 'node', access: 'read', name: n.value.Node }));
      return { json: visible.map(nodeOut), headers };
    }),
  );

  router.add('GET', '/v1/catalog/node/:node', (ctx) => {
    const name = ctx.params.node as string;
    return blockingRead(ctx, store, { exact: [topics.node(name)] }, deps.random, () => {
      ctx.require({ resource: 'node', access: 'read', name });
      const node = getNode(store, name);
      if (!node) return { json: null };
      const services: Record<string, unknown> = {};
      for (const entry of servicesOn(store, name)) services[entry.value.ID] = agentServiceOut(entry, deps.datacenter);
      return { json: { Node: nodeOut(node), Services: services } };
    });
  });

  router.add('GET', '/v1/catalog/services', (ctx) =>
    blockingRead(ctx, store, { exact: [topics.services] }, deps.random, () => {
      refuseFilter(ctx.query);
      const meta = nodeMetaFilter(ctx.query);
      const matching = listAllServices(store).filter((entry) => {
        if (!ctx.query.has('node-meta')) return true;
        const node = getNode(store, nodeOfServiceKey(entry.key));
        return node !== undefined && meta(node.value);
      });
      const { visible, headers } = readableBy(ctx, matching, (entry) => ({ resource: 'service', access: 'read', name: entry.value.Service }));
      const tags = new Map<string, Set<string>>();
      for (const entry of visible) {
        const set = tags.get(entry.value.Service) ?? new Set<string>();
        for (const tag of entry.value.Tags) set.add(tag);
        tags.set(entry.value.Service, set);
      }
      const out: Record<string, string[]> = {};
      for (const name of [...tags.keys()].sort()) out[name] = [...(tags.get(name) as Set<string>)].sort();
      return { json: out, headers };
    }),
  );

  router.add('GET', '/v1/catalog/service/:service', (ctx) => {
    const name = ctx.params.service as string;
    return blockingRead(ctx, store, { exact: [topics.service(name)] }, deps.random, () => {
      refuseFilter(ctx.query);
      ctx.require({ resource: 'service', access: 'read', name });
      const meta = nodeMetaFilter(ctx.query);
      const tags = tagFilter(ctx.query);
      const out = instancesInStore(store, name)
        .filter((i) => meta(i.node.value) && tags(i.service.value.Tags))
        .map((i) => catalogServiceOut(i.node, i.service));
      return { json: out };
    });
  });
}


