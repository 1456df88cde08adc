// /v1/mesh/config/service-defaults[/:name]: stored under
// mesh/config/service-defaults/<name> as { Kind, Name, Config }, so the
// GET /v1/mesh/config snapshot carries it to every agent. Validated by the
// same schema the CLI and the agent use; all errors at once, with paths.

import { MeshError, badRequest } from '../../../lib/errors.ts';
import { describeZodIssues } from '../../../config/describe.ts';
import { serviceDefaultsSchema } from '../../../config/service-defaults.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { parseJsonBody } from '../consul/decode.ts';
import { CONFIG_PREFIX } from './config.ts';

const KIND = 'service-defaults';
const NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?$/;
const keyOf = (name: string) => `${CONFIG_PREFIX}${KIND}/${name}`;

interface Entry {
  Kind: string;
  Name: string;
  Config: unknown;
}

export function addServiceDefaultsRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { store } = deps;
  const out = (e: { value: unknown; createRevision: number; modRevision: number }) => ({ ...(e.value as Entry), CreateIndex: e.createRevision, ModifyIndex: e.modRevision });
  const name = (raw: string | undefined) => {
    if (!raw || !NAME.test(raw)) throw badRequest(`Invalid service name "${raw ?? ''}": letters, digits and dashes, at most 64`);
    return raw;
  };

  router.add('GET', `/v1/mesh/config/${KIND}`, (ctx) => {
    ctx.require({ resource: 'agent', access: 'read' });
    return { json: store.list(`${CONFIG_PREFIX}${KIND}/`).map(out) };
  });

  router.add('GET', `/v1/mesh/config/${KIND}/:name`, (ctx) => {
    ctx.require({ resource: 'agent', access: 'read' });
    const entry = store.get(keyOf(name(ctx.params.name)));
    if (!entry) throw new MeshError('MESH_E_NOT_FOUND', `no ${KIND} for ${ctx.params.name}`);
    return { json: out(entry) };
  });

  router.add('PUT', `/v1/mesh/config/${KIND}/:name`, async (ctx) => {
    ctx.require({ resource: 'operator', access: 'write' });
    const service = name(ctx.params.name);
    const parsed = serviceDefaultsSchema.safeParse(parseJsonBody(await ctx.body()) ?? {});
    if (!parsed.success) throw badRequest(`Invalid ${KIND} for ${service}: ${describeZodIssues(parsed.error)}`);
    const casText = ctx.query.get('cas');
    if (casText !== null && !/^\d+$/.test(casText)) throw badRequest(`Invalid cas "${casText}"`);
    const cas = casText === null ? undefined : Number(casText);
    const { result } = await store.transact((txn) => {
      const current = txn.get(keyOf(service));
      if (cas !== undefined && (current?.modRevision ?? 0) !== cas) return false;
      txn.put(keyOf(service), { Kind: KIND, Name: service, Config: parsed.data } satisfies Entry);
      return true;
    });
    if (!result) throw new MeshError('MESH_E_CONFLICT', `${KIND} ${service} changed since index ${cas}`, { hint: 'read it again and retry' });
    return { json: out(store.get(keyOf(service)) as never) };
  });

  router.add('DELETE', `/v1/mesh/config/${KIND}/:name`, async (ctx) => {
    ctx.require({ resource: 'operator', access: 'write' });
    const { result } = await store.transact((txn) => txn.delete(keyOf(name(ctx.params.name))));
    return { json: result };
  });
}
