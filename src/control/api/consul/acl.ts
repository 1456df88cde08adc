// /v1/acl/token*: tokens in Consul's shapes. meshctl's three built-in
// policies map onto Consul's: global-management, a read-only policy, and
// node + service identities for agents. Secrets are shown only in the answer
// to the PUT that made them; the server keeps their hash alone.

import { MeshError, badRequest } from '../../../lib/errors.ts';
import type { PolicyName } from '../../acl/policy.ts';
import type { TokenRecord } from '../../acl/tokens.ts';
import type { StoredEntry } from '../../store/store.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { decodeStruct, parseJsonBody, type Decoded } from './decode.ts';

const MANAGEMENT_POLICY = { ID: '00000000-0000-0000-0000-000000000001', Name: 'global-management' };
const READ_POLICY = { ID: '00000000-0000-0000-0000-000000000002', Name: 'global-read-only' };

const tokenSpec = {
  Description: 'string',
  Policies: { list: { ID: 'string', Name: 'string' } },
  NodeIdentities: { list: { NodeName: 'string', Datacenter: 'string' } },
  ServiceIdentities: { list: { ServiceName: 'string' } },
} as const;

function policyOf(d: Decoded): PolicyName {
  const names = ((d.Policies as Decoded[] | undefined) ?? []).map((p) => (p.Name as string) || (p.ID as string));
  const nodes = (d.NodeIdentities as Decoded[] | undefined) ?? [];
  const unknown = names.filter((n) => ![MANAGEMENT_POLICY.Name, MANAGEMENT_POLICY.ID, READ_POLICY.Name, READ_POLICY.ID, 'management', 'read'].includes(n));
  if (unknown.length > 0) throw badRequest(`Unknown policy "${unknown[0]}": use global-management or global-read-only, or NodeIdentities for an agent token`);
  if (names.some((n) => n === MANAGEMENT_POLICY.Name || n === MANAGEMENT_POLICY.ID || n === 'management')) return 'management';
  if (nodes.length > 0) return 'agent';
  if (names.length > 0) return 'read';
  throw badRequest('A token needs a policy: Policies [{"Name":"global-management"}] or [{"Name":"global-read-only"}], or NodeIdentities');
}

export function tokenOut(entry: StoredEntry<TokenRecord>, secret?: string) {
  const t = entry.value;
  return {
    AccessorID: t.AccessorID,
    ...(secret ? { SecretID: secret } : {}),
    Description: t.Description,
    Policies: t.Policy === 'management' ? [MANAGEMENT_POLICY] : t.Policy === 'read' ? [READ_POLICY] : [],
    NodeIdentities: t.Policy === 'agent' ? [{ NodeName: t.Node, Datacenter: '' }] : [],
    ServiceIdentities: t.Policy === 'agent' ? t.Services.map((s) => ({ ServiceName: s })) : [],
    MeshPolicy: t.Policy,
    Local: false,
    CreateTime: t.CreateTime,
    Hash: t.SecretHash.slice(0, 16),
    CreateIndex: entry.createRevision,
    ModifyIndex: entry.modRevision,
  };
}

export function addAclRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { tokens } = deps;

  router.add('PUT', '/v1/acl/token', async (ctx) => {
    ctx.require({ resource: 'acl', access: 'write' });
    const d = decodeStruct(tokenSpec, parseJsonBody(await ctx.body()), '');
    const policy = policyOf(d);
    const nodes = ((d.NodeIdentities as Decoded[] | undefined) ?? []).map((n) => n.NodeName as string);
    if (nodes.length > 1) throw badRequest('An agent token is scoped to one node: give one NodeIdentity');
    if (policy !== 'agent' && (d.ServiceIdentities as Decoded[] | undefined)?.length) {
      throw badRequest('ServiceIdentities scope agent tokens: give NodeIdentities too');
    }
    const services = ((d.ServiceIdentities as Decoded[] | undefined) ?? []).map((s) => s.ServiceName as string);
    const { secret, entry } = await tokens.create({
      policy,
      description: (d.Description as string | undefined) ?? '',
      ...(policy === 'agent' ? { node: nodes[0] as string, services } : {}),
    });
    return { json: tokenOut(entry, secret) };
  });

  router.add('GET', '/v1/acl/tokens', (ctx) => {
    ctx.require({ resource: 'acl', access: 'read' });
    return { json: tokens.list().map((e) => tokenOut(e)) };
  });

  router.add('GET', '/v1/acl/token/self', (ctx) => {
    if (!ctx.identity) throw new MeshError('MESH_E_ACL_NOT_FOUND', 'ACL not found');
    const entry = tokens.get(ctx.identity.accessorId);
    if (!entry) throw new MeshError('MESH_E_ACL_NOT_FOUND', 'ACL not found');
    return { json: tokenOut(entry) };
  });

  router.add('GET', '/v1/acl/token/:id', (ctx) => {
    ctx.require({ resource: 'acl', access: 'read' });
    const entry = tokens.get(ctx.params.id as string);
    if (!entry) throw new MeshError('MESH_E_NOT_FOUND', `token not found: ${ctx.params.id as string}`);
    return { json: tokenOut(entry) };
  });

  router.add('DELETE', '/v1/acl/token/:id', async (ctx) => {
    ctx.require({ resource: 'acl', access: 'write' });
    if (ctx.identity?.accessorId === ctx.params.id) throw badRequest('Deletion of the request\'s authorization token is not permitted');
    return { json: await tokens.revoke(ctx.params.id as string) };
  });
}
