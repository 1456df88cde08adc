// /v1/agent/*: the server answers as the Consul agent of its own node.
// Services registered here live on that node, and their HTTP/TCP/TTL checks
// are run by the server's health monitor.

import { MeshError, badRequest } from '../../../lib/errors.ts';
import { getCheck, getService, checksOn, listNodes, removeCheck, removeService, servicesOn, setCheckStatus, upsertCheck, upsertService } from '../../catalog/catalog.ts';
import { topics } from '../../catalog/keys.ts';
import { NODE_HEALTH_CHECK_ID, type CheckRecord, type HealthStatus } from '../../catalog/types.ts';
import type { Txn } from '../../store/store.ts';
import { blockingRead, readableBy } from '../blocking.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { decodeStruct, parseJsonBody } from './decode.ts';
import { flag } from './filters.ts';
import { checkFromAgent, checksFromAgentService, parseStatus, serviceFromAgent } from './registration.ts';
import { agentServiceOut, checkOut } from './shapes.ts';
import { agentCheckSpec, agentServiceSpec, checkUpdateSpec } from './specs.ts';

export function addAgentRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { store, monitor, nodeName } = deps;
  const self = { exact: [topics.node(nodeName)] };

  router.add('PUT', '/v1/agent/service/register', async (ctx) => {
    const decoded = decodeStruct(agentServiceSpec, parseJsonBody(await ctx.body()), '');
    const service = serviceFromAgent(decoded);
    ctx.require({ resource: 'service', access: 'write', name: service.Service, node: nodeName });
    const checks = checksFromAgentService(decoded, nodeName, service);
    const explicitStatus = new Set(checks.filter((_, i) => statusGiven(decoded, i)).map((c) => c.CheckID));
    const replace = flag(ctx.query, 'replace-existing-checks');
    const { result: stored } = await store.transact((txn) => {
      upsertService(txn, nodeName, service);
      const keep = new Set(checks.map((c) => c.CheckID));
      if (replace) {
        for (const old of checksOn(txn, nodeName)) {
          if (old.value.ServiceID === service.ID && !keep.has(old.value.CheckID)) removeCheck(txn, nodeName, old.value.CheckID);
        }
      }
      return checks.map((check) => storeCheck(txn, check, explicitStatus.has(check.CheckID)));
    });
    for (const check of stored) monitor.track(check);
    return {};
  });

  router.add('PUT', '/v1/agent/service/deregister/:id', async (ctx) => {
    const id = ctx.params.id as string;
    const existing = getService(store, nodeName, id);
    if (!existing) throw unknownService(id);
    ctx.require({ resource: 'service', access: 'write', name: existing.value.Service, node: nodeName });
    const owned = checksOn(store, nodeName).filter((c) => c.value.ServiceID === id);
    await store.transact((txn) => removeService(txn, nodeName, id));
    for (const check of owned) monitor.untrack(nodeName, check.value.CheckID);
    return {};
  });

  router.add('GET', '/v1/agent/services', (ctx) =>
    blockingRead(ctx, store, self, deps.random, () => {
      const { visible, headers } = readableBy(ctx, servicesOn(store, nodeName), (entry) => ({ resource: 'service', access: 'read', name: entry.value.Service }));
      const out: Record<string, unknown> = {};
      for (const entry of visible) out[entry.value.ID] = agentServiceOut(entry, deps.datacenter);
      return { json: out, headers };
    }),
  );

  router.add('GET', '/v1/agent/service/:id', (ctx) =>
    blockingRead(ctx, store, self, deps.random, () => {
      const entry = getService(store, nodeName, ctx.params.id as string);
      if (!entry) throw unknownService(ctx.params.id as string);
      ctx.require({ resource: 'service', access: 'read', name: entry.value.Service });
      return { json: agentServiceOut(entry, deps.datacenter) };
    }),
  );

  router.add('GET', '/v1/agent/checks', (ctx) =>
    blockingRead(ctx, store, self, deps.random, () => {
      ctx.require({ resource: 'node', access: 'read', name: nodeName });
      const out: Record<string, unknown> = {};
      for (const entry of checksOn(store, nodeName)) {
        const service = entry.value.ServiceID ? getService(store, nodeName, entry.value.ServiceID)?.value : undefined;
        out[entry.value.CheckID] = checkOut(entry, service);
      }
      return { json: out };
    }),
  );

  router.add('PUT', '/v1/agent/check/register', async (ctx) => {
    const decoded = decodeStruct(agentCheckSpec, parseJsonBody(await ctx.body()), '');
    if (!decoded.Name) throw badRequest('Missing check name');
    const check = checkFromAgent(decoded, nodeName, { id: decoded.Name as string, name: decoded.Name as string, serviceId: '' });
    requireCheckWrite(ctx, check.ServiceID);
    const { result } = await store.transact((txn) => storeCheck(txn, check, decoded.Status !== undefined));
    monitor.track(result);
    return {};
  });

  router.add('PUT', '/v1/agent/check/deregister/:id', async (ctx) => {
    const id = ctx.params.id as string;
    const existing = getCheck(store, nodeName, id);
    if (!existing) throw unknownCheck(id);
    requireCheckWrite(ctx, existing.value.ServiceID);
    await store.transact((txn) => removeCheck(txn, nodeName, id));
    monitor.untrack(nodeName, id);
    return {};
  });

  const update = (status: HealthStatus | undefined): Handler => async (ctx) => {
    const id = ctx.params.id as string;
    let output = ctx.query.get('note') ?? '';
    let newStatus = status;
    if (newStatus === undefined) {
      const decoded = decodeStruct(checkUpdateSpec, parseJsonBody(await ctx.body()), '');
      newStatus = parseStatus((decoded.Status as string | undefined) ?? '', 'passing');
      output = (decoded.Output as string | undefined) ?? '';
    }
    const existing = getCheck(store, nodeName, id);
    if (!existing) throw unknownCheck(id);
    requireCheckWrite(ctx, existing.value.ServiceID);
    const final = newStatus;
    await store.transact((txn) => setCheckStatus(txn, nodeName, id, final, output));
    const current = getCheck(store, nodeName, id);
    if (current) monitor.track(current.value);
    return {};
  };
  // Debian's python3-consul (0.7.1) sends these three as GET, as Consul before 1.0
  // accepted; Consul 1.x answers 405, which that client reads as a silent False.
  const ttlMethods = ['PUT', 'GET'] as const;
  router.add(ttlMethods, '/v1/agent/check/pass/:id', update('passing'));
  router.add(ttlMethods, '/v1/agent/check/warn/:id', update('warning'));
  router.add(ttlMethods, '/v1/agent/check/fail/:id', update('critical'));
  router.add('PUT', '/v1/agent/check/update/:id', update(undefined));

  router.add('GET', '/v1/agent/self', (ctx) => {
    ctx.require({ resource: 'agent', access: 'read' });
    return {
      json: {
        Config: {
          Datacenter: deps.datacenter,
          NodeName: nodeName,
          NodeID: deps.nodeId,
          Server: true,
          Revision: '',
          Version: deps.version,
          PrimaryDatacenter: deps.datacenter,
        },
        DebugConfig: {},
        Member: memberOut(nodeName, deps.advertise.replace(/:\d+$/, ''), 'passing', deps.datacenter),
        Meta: {},
      },
    };
  });

  router.add('GET', '/v1/agent/members', (ctx) => {
    ctx.require({ resource: 'agent', access: 'read' });
    const members = [];
    for (const node of listNodes(store)) {
      const health = getCheck(store, node.value.Node, NODE_HEALTH_CHECK_ID);
      if (health) members.push(memberOut(node.value.Node, node.value.Address, health.value.Status, deps.datacenter));
    }
    return { json: members };
  });

  function requireCheckWrite(ctx: RequestContext, serviceId: string): void {
    if (serviceId === '') {
      ctx.require({ resource: 'node', access: 'write', name: nodeName });
      return;
    }
    const service = getService(store, nodeName, serviceId);
    if (!service) throw badRequest(`ServiceID "${serviceId}" does not exist`);
    ctx.require({ resource: 'service', access: 'write', name: service.value.Service, node: nodeName });
  }
}

/** Re-registering keeps a check's current state unless the body sets one, so anti-entropy never flaps health. */
function storeCheck(txn: Txn, check: CheckRecord, statusGiven: boolean): CheckRecord {
  const existing = getCheck(txn, check.Node, check.CheckID)?.value;
  const record = existing && !statusGiven ? { ...check, Status: existing.Status, Output: existing.Output } : check;
  upsertCheck(txn, record);
  return record;
}

function statusGiven(decoded: Record<string, unknown>, i: number): boolean {
  const list: Array<Record<string, unknown>> = [];
  if (decoded.Check && Object.keys(decoded.Check as object).length > 0) list.push(decoded.Check as Record<string, unknown>);
  list.push(...((decoded.Checks as Array<Record<string, unknown>> | undefined) ?? []));
  return list[i]?.Status !== undefined;
}

function memberOut(name: string, addr: string, status: HealthStatus, dc: string) {
  return {
    Name: name,
    Addr: addr,
    Port: 8301,
    Tags: { dc, role: 'node' },
    // Serf's member states: 1 alive, 4 failed.
    Status: status === 'critical' ? 4 : 1,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}

const unknownService = (id: string): MeshError =>
  new MeshError('MESH_E_NOT_FOUND', `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
const unknownCheck = (id: string): MeshError =>
  new MeshError('MESH_E_NOT_FOUND', `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);

