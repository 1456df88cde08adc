// Reading and editing one service-router or service-resolver entry from the
// CLI: read it, edit it (config/route-edit.ts), check it, write it back
// with check-and-set; on a lost race, again on top of the other write, so
// concurrent edits of one destination are all kept.

import { CAS_ATTEMPTS, casBackoff, lostCas } from './cas.ts';
import { describeFieldErrors, type Checked } from '../config/kind.ts';
import { checkResolver, checkRouter, RESOLVER_KIND, ROUTER_KIND, routerKind, type StoredResolver, type StoredRouter } from '../config/routes.ts';
import { MeshError } from '../lib/errors.ts';
import type { ApiClient } from './api-client.ts';

export interface Entry<C> {
  Name: string;
  Config: C;
  ModifyIndex: number;
}

export function checkDestination(name: string): void {
  if (!routerKind.nameRule.test(name)) throw new MeshError('MESH_E_USAGE', `invalid service "${name}"`, { hint: `give ${routerKind.nameHelp}` });
}

export const entryPath = (kind: string, name?: string) => `/v1/mesh/config/${kind}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

async function getEntry<C>(client: ApiClient, kind: string, name: string): Promise<Entry<C> | undefined> {
  try {
    return (await client.request<Entry<C>>('GET', entryPath(kind, name))).body;
  } catch (error) {
    if (error instanceof MeshError && error.code === 'MESH_E_NOT_FOUND') return undefined;
    throw error;
  }
}

export const getRouter = (client: ApiClient, destination: string) => getEntry<StoredRouter>(client, ROUTER_KIND, destination);
export const getResolver = (client: ApiClient, service: string) => getEntry<StoredResolver>(client, RESOLVER_KIND, service);

/** The subset names a service's resolver defines. */
export async function subsetsOf(client: ApiClient, service: string): Promise<Set<string>> {
  return new Set(Object.keys((await getResolver(client, service))?.Config.Subsets ?? {}));
}


/**
 * Edits one entry; edit answers undefined for "nothing to do". An edit that
 * leaves the entry empty (no routes, no subsets) deletes it. Answers whether
 * anything was written.
 */
async function editEntry<C extends object>(
  client: ApiClient,
  kind: string,
  name: string,
  check: (input: unknown) => Checked<C>,
  isEmpty: (config: C) => boolean,
  edit: (current: C | undefined) => C | undefined,
): Promise<boolean> {
  for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
    if (attempt > 1) await casBackoff(attempt);
    const current = await getEntry<C>(client, kind, name);
    const next = edit(current?.Config);
    if (next === undefined) return false;
    const checked = check(next);
    if (!checked.ok) throw new MeshError('MESH_E_USAGE', `invalid ${kind} ${name}: ${describeFieldErrors(checked.errors)}`, { hint: 'nothing was stored' });
    try {
      if (isEmpty(checked.value)) {
        if (!current) return false;
        const { body } = await client.request<boolean>('DELETE', `${entryPath(kind, name)}?cas=${current.ModifyIndex}`);
        if (body) return true;
        continue;
      }
      await client.request('PUT', `${entryPath(kind, name)}?cas=${current?.ModifyIndex ?? 0}`, checked.value);
      return true;
    } catch (error) {
      if (!lostCas(error)) throw error;
    }
  }
  throw new MeshError('MESH_E_CONFLICT', `the ${kind} of ${name} kept changing while this edit was applied; nothing was stored`, { hint: 'run the command again' });
}

export const editRouter = (client: ApiClient, destination: string, edit: (current: StoredRouter | undefined) => StoredRouter | undefined) =>
  editEntry(client, ROUTER_KIND, destination, checkRouter, (c) => c.Routes.length === 0, (current) => {
    const next = edit(current);
    return next && { Routes: next.Routes }; // the server numbers versions
  });

export const editResolver = (client: ApiClient, service: string, edit: (current: StoredResolver | undefined) => StoredResolver | undefined) =>
  editEntry(client, RESOLVER_KIND, service, checkResolver, (c) => Object.keys(c.Subsets).length === 0, edit);
