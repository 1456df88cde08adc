// Intentions over the API, beside their config entries
// (/v1/mesh/config/service-intentions/<destination>, config-kind.ts):
//   GET    /v1/connect/intentions                 Consul's list, one per source → destination
//   GET|PUT|DELETE /v1/connect/intentions/exact?source=&destination=
//                                                 one intention; PUT takes {Action} and/or {Permissions}
//   GET    /v1/connect/intentions/check?source=&destination=   {Allowed}, as a TCP connection gets it
//   GET    /v1/mesh/intentions/explain?source=&destination=[&path=&method=&header=k:v...]
//                                                 {Allowed, DecidedBy, Precedence, L7, Path}
// The decision is config/intention-table.ts over the stored entries and the
// mesh default. Writes edit the destination's entry inside one store
// transaction (read, edit, check, write), so concurrent writes never lose one.
// Writes need operator:write (a management token), reads operator:read.

import { createHash } from 'node:crypto';
import { badRequest, MeshError } from '../../../lib/errors.ts';
import { normalizeRequestTarget } from '../../../lib/http/path-normalize.ts';
import { describeFieldErrors } from '../../../config/kind.ts';
import { checkIntentions, intentionsKind, precedenceOf, type StoredIntentions, type StoredSource } from '../../../config/intentions.ts';
import { compileIntentions, type IntentionTable } from '../../../config/intention-table.ts';
import { withoutIntention, withSourceReplaced } from '../../../config/intention-edit.ts';
import { MESH_ENTRY_NAME, meshKind, withMeshDefaults, type StoredMesh } from '../../../config/mesh.ts';
import type { Store, StoredEntry } from '../../store/store.ts';
import { blockingRead } from '../blocking.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { parseJsonBody } from '../consul/decode.ts';
import { CONFIG_PREFIX } from './config.ts';
import type { ConfigEntry } from './config-kind.ts';

const PREFIX = `${CONFIG_PREFIX}${intentionsKind.kind}/`;
const MESH_KEY = `${CONFIG_PREFIX}${meshKind.kind}/${MESH_ENTRY_NAME}`;

interface IntentionEntryValue extends ConfigEntry {
  Config: StoredIntentions;
}

export function loadIntentionTable(store: Pick<Store, 'get' | 'list'>): IntentionTable {
  const entries = store.list<IntentionEntryValue>(PREFIX).map((e) => ({ Name: e.value.Name, Config: e.value.Config }));
  const mesh = store.get<ConfigEntry>(MESH_KEY)?.value.Config as StoredMesh | undefined;
  return compileIntentions(entries, withMeshDefaults(mesh).default_policy);
}

/** Consul's shape of one intention. ID: stable per source → destination (Consul leaves it empty for config-entry intentions). */
function consulShape(source: StoredSource, destination: string, entry: StoredEntry<IntentionEntryValue>) {
  return {
    ID: uuidOf(`${source.Name}\0${destination}`),
    SourceNS: 'default',
    SourceName: source.Name,
    DestinationNS: 'default',
    DestinationName: destination,
    SourceType: 'consul',
    ...(source.Action ? { Action: source.Action } : {}),
    ...(source.Permissions ? { Permissions: source.Permissions } : {}),
    Description: source.Description ?? '',
    Meta: {},
    Precedence: precedenceOf(source.Name, destination),
    CreatedAt: source.CreatedAt ?? '',
    CreateIndex: entry.createRevision,
    ModifyIndex: entry.modRevision,
  };
}

function uuidOf(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function nameParam(ctx: RequestContext, key: 'source' | 'destination', wildcard: boolean): string {
  const value = ctx.query.get(key);
  if (value === null || value === '') throw badRequest(`Missing ${key}: give ?source=SERVICE&destination=SERVICE`);
  if (!intentionsKind.nameRule.test(value) || (!wildcard && value === '*')) throw badRequest(`Invalid ${key} "${value}": expected a service name (letters, digits and dashes)${wildcard ? ' or *' : ''}`);
  return value;
}

function pair(ctx: RequestContext, wildcard: boolean) {
  return { source: nameParam(ctx, 'source', wildcard), destination: nameParam(ctx, 'destination', wildcard) };
}

/** Reads, edits, checks and writes one destination's entry in one transaction; undefined from edit: nothing to write. */
async function editEntry(store: Store, destination: string, edit: (current: StoredIntentions | undefined) => StoredIntentions | undefined): Promise<boolean> {
  const key = PREFIX + destination;
  const { result } = await store.transact((txn) => {
    const next = edit(txn.get<IntentionEntryValue>(key)?.value.Config);
    if (next === undefined) return false;
    const checked = checkIntentions(next);
    if (!checked.ok) return { invalid: describeFieldErrors(checked.errors) };
    if (checked.value.Sources.length === 0) txn.delete(key);
    else txn.put(key, { Kind: intentionsKind.kind, Name: destination, Config: checked.value } satisfies IntentionEntryValue);
    return true;
  });
  if (typeof result === 'object') throw badRequest(`Invalid intention: ${result.invalid}`);
  return result;
}

export function addIntentionRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { store } = deps;

  router.add('GET', '/v1/connect/intentions', (ctx) => {
    ctx.require({ resource: 'operator', access: 'read' });
    return blockingRead(ctx, store, { prefixes: [PREFIX] }, deps.random, () => ({
      json: store
        .list<IntentionEntryValue>(PREFIX)
        .flatMap((e) => e.value.Config.Sources.map((s) => consulShape(s, e.value.Name, e)))
        .sort((a, b) => b.Precedence - a.Precedence || a.SourceName.localeCompare(b.SourceName) || a.DestinationName.localeCompare(b.DestinationName)),
    }));
  });

  router.add('GET', '/v1/connect/intentions/exact', (ctx) => {
    const { source, destination } = pair(ctx, true);
    ctx.require({ resource: 'operator', access: 'read' });
    const entry = store.get<IntentionEntryValue>(PREFIX + destination);
    const found = entry?.value.Config.Sources.find((s) => s.Name === source);
    if (!entry || !found) throw new MeshError('MESH_E_NOT_FOUND', `Intention not found for ${source} → ${destination}`);
    return { json: consulShape(found, destination, entry) };
  });

  router.add('PUT', '/v1/connect/intentions/exact', async (ctx) => {
    const { source, destination } = pair(ctx, true);
    ctx.require({ resource: 'operator', access: 'write' });
    const body = parseJsonBody(await ctx.body());
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Missing intention: give a JSON object with Action ("allow" or "deny") and/or Permissions');
    const { Action, Permissions, Description } = body as Record<string, unknown>;
    const unknown = Object.keys(body).filter((k) => !['Action', 'Permissions', 'Description', 'SourceName', 'DestinationName', 'SourceType', 'Meta'].includes(k));
    if (unknown.length > 0) throw badRequest(`Invalid intention: unknown key(s) ${unknown.join(', ')}; give Action and/or Permissions`);
    const replacement = { Name: source, ...(Action === undefined ? {} : { Action }), ...(Permissions === undefined ? {} : { Permissions }), ...(Description === undefined ? {} : { Description }) } as StoredSource;
    await editEntry(store, destination, (current) => withSourceReplaced(current, replacement, new Date(deps.clock.now()).toISOString()));
    return { json: true };
  });

  router.add('DELETE', '/v1/connect/intentions/exact', async (ctx) => {
    const { source, destination } = pair(ctx, true);
    ctx.require({ resource: 'operator', access: 'write' });
    await editEntry(store, destination, (current) => {
      const { config, removed } = withoutIntention(current, source);
      return removed ? config : undefined;
    });
    return { json: true };
  });

  router.add('GET', '/v1/connect/intentions/check', (ctx) => {
    const { source, destination } = pair(ctx, false);
    ctx.require({ resource: 'operator', access: 'read' });
    return { json: { Allowed: loadIntentionTable(store).decide({ source, destination }).action === 'allow' } };
  });

  router.add('GET', '/v1/mesh/intentions/explain', (ctx) => {
    const { source, destination } = pair(ctx, false);
    ctx.require({ resource: 'operator', access: 'read' });
    const http = httpFacts(ctx.query);
    const decision = loadIntentionTable(store).decide({ source, destination, ...(http ? { http } : {}) });
    return { json: { Allowed: decision.action === 'allow', DecidedBy: decision.decidedBy, Precedence: decision.precedence, L7: decision.l7, ...(http ? { Path: http.path } : {}) } };
  });
}

/** The HTTP request of an explain query, when any of path, method or header is given. */
function httpFacts(query: URLSearchParams) {
  const target = query.get('path');
  const method = query.get('method');
  const headerParams = query.getAll('header');
  if (target === null && method === null && headerParams.length === 0) return undefined;
  let path = '/';
  if (target !== null) {
    const normalized = normalizeRequestTarget(target);
    if (!normalized.ok) throw badRequest(`Invalid path ${JSON.stringify(target)}: ${normalized.reason} (the proxy refuses such a request)`);
    path = normalized.path;
  }
  if (method !== null && !/^[A-Z][A-Z0-9_-]*$/.test(method)) throw badRequest(`Invalid method "${method}": expected an HTTP method in capitals, such as GET`);
  const headers = new Map<string, string>();
  for (const h of headerParams) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw badRequest(`Invalid header "${h}": expected NAME:VALUE`);
    headers.set(h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim());
  }
  return { path, method: method ?? 'GET', headers: (name: string) => headers.get(name) };
}
