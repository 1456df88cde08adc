// /v1/mesh/config/<kind>[/:name]: one config kind's entries, Consul-like.
// PUT takes the kind's stored form as JSON, validated by the kind's one schema
// (a 400 lists every field error), with ?cas=N (0: only when absent; a lost
// check-and-set is a 409) and answers the stored entry with its ModifyIndex;
// GET one (404 when absent) or all, as blocking queries; DELETE answers
// true/false. Entries live at mesh/config/<kind>/<name> as { Kind, Name,
// Config }, so the GET /v1/mesh/config snapshot carries them to every agent.
// Writes need a management token, reads any valid token (operator:read).
//
// The routes are the same for every kind; a new kind is its schema file and
// one line in CONFIG_KINDS. A kind whose entries name others (a route names
// subsets and services) checks them, and may write beside the entry (a
// route set's history), in its onWrite and onDelete hooks, which run inside
// the write's transaction: a refusal there stores nothing.

import { MeshError, badRequest } from '../../../lib/errors.ts';
import { describeFieldErrors, type Checked } from '../../../config/kind.ts';
import { intentionsKind } from '../../../config/intentions.ts';
import { meshKind } from '../../../config/mesh.ts';
import { serviceDefaultsKind } from '../../../config/service-defaults.ts';
import type { StoredEntry, Txn } from '../../store/store.ts';
import { blockingRead } from '../blocking.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { parseJsonBody } from '../consul/decode.ts';
import { CONFIG_PREFIX } from './config.ts';
import { resolverApiKind, routerApiKind } from './route-store.ts';

/** What the API needs to know of a config kind. */
export interface ConfigKindSpec {
  readonly kind: string;
  readonly nameRule: RegExp;
  readonly nameHelp: string;
  check(input: unknown): Checked<unknown>;
  /**
   * Inside the write's transaction, after the schema passed: checks against
   * the rest of the store (throw a MeshError to refuse; nothing is stored) and
   * answers the Config to store.
   */
  onWrite?(txn: Txn, name: string, config: unknown, now: number): unknown;
  /** Inside the delete's transaction, when the entry exists: throw to refuse. */
  onDelete?(txn: Txn, name: string, now: number): void;
}

/** How an entry is stored, and (with its indexes) answered. */
export interface ConfigEntry {
  Kind: string;
  Name: string;
  Config: unknown;
}

const out = (e: StoredEntry<ConfigEntry>) => ({ ...e.value, CreateIndex: e.createRevision, ModifyIndex: e.modRevision });

function casParam(query: URLSearchParams): number | undefined {
  const text = query.get('cas');
  if (text === null) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw badRequest(`Invalid cas: "${text}" is not an unsigned integer`);
  return Number(text);
}

export function addConfigKindRoutes(router: Router<Handler>, deps: ApiDeps, spec: ConfigKindSpec): void {
  const { store } = deps;
  const prefix = `${CONFIG_PREFIX}${spec.kind}/`;
  const base = `/v1/mesh/config/${spec.kind}`;
  const nameOf = (raw: string | undefined): string => {
    if (raw === undefined || !spec.nameRule.test(raw)) throw badRequest(`Invalid ${spec.kind} name "${raw ?? ''}": expected ${spec.nameHelp}`);
    return raw;
  };

  router.add('GET', base, (ctx) => {
    ctx.require({ resource: 'operator', access: 'read' });
    return blockingRead(ctx, store, { prefixes: [prefix] }, deps.random, () => ({ json: store.list<ConfigEntry>(prefix).map(out) }));
  });

  router.add('GET', `${base}/:name`, (ctx) => {
    const name = nameOf(ctx.params.name);
    ctx.require({ resource: 'operator', access: 'read' });
    return blockingRead(ctx, store, { exact: [prefix + name] }, deps.random, () => {
      const entry = store.get<ConfigEntry>(prefix + name);
      if (!entry) throw new MeshError('MESH_E_NOT_FOUND', `Config entry not found for ${spec.kind} "${name}"`);
      return { json: out(entry) };
    });
  });

  router.add('PUT', `${base}/:name`, async (ctx) => {
    const name = nameOf(ctx.params.name);
    ctx.require({ resource: 'operator', access: 'write' });
    const cas = casParam(ctx.query);
    const body = parseJsonBody(await ctx.body());
    if (body === undefined) throw badRequest(`Missing ${spec.kind} settings: give them as a JSON object ({} for all the defaults)`);
    const checked = spec.check(body);
    if (!checked.ok) throw badRequest(`Invalid ${spec.kind} "${name}": ${describeFieldErrors(checked.errors)}`);
    const { result } = await store.transact((txn) => {
      const current = txn.get<ConfigEntry>(prefix + name);
      if (cas !== undefined && (current?.modRevision ?? 0) !== cas) return { lost: current?.modRevision ?? 0 };
      const config = spec.onWrite ? spec.onWrite(txn, name, checked.value, deps.clock.now()) : checked.value;
      txn.put(prefix + name, { Kind: spec.kind, Name: name, Config: config } satisfies ConfigEntry);
      return { stored: txn.get<ConfigEntry>(prefix + name) as StoredEntry<ConfigEntry> };
    });
    if ('lost' in result) {
      const now = result.lost === 0 ? 'it does not exist' : `its ModifyIndex is ${result.lost}`;
      throw new MeshError('MESH_E_CONFLICT', `Check-and-set failed for ${spec.kind} "${name}": cas=${cas} but ${now}`);
    }
    return { json: out(result.stored), headers: { 'X-Consul-Index': result.stored.modRevision } };
  });

  router.add('DELETE', `${base}/:name`, async (ctx) => {
    const name = nameOf(ctx.params.name);
    ctx.require({ resource: 'operator', access: 'write' });
    const cas = casParam(ctx.query);
    const { result } = await store.transact((txn) => {
      const current = txn.get(prefix + name);
      if (!current || (cas !== undefined && current.modRevision !== cas)) return false;
      spec.onDelete?.(txn, name, deps.clock.now());
      return txn.delete(prefix + name);
    });
    return { json: result };
  });
}

/** One line per kind. */
export const CONFIG_KINDS: readonly ConfigKindSpec[] = [serviceDefaultsKind, intentionsKind, meshKind, routerApiKind, resolverApiKind];

export function addConfigKindsRoutes(router: Router<Handler>, deps: ApiDeps): void {
  for (const spec of CONFIG_KINDS) addConfigKindRoutes(router, deps, spec);
}
