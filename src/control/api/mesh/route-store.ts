// How route sets and subsets are stored, for the generic kind routes
// (config-kind.ts) and the route endpoints (routes.ts). Inside the write's
// transaction:
//   - every Subset a Split or Mirror names exists in that service's
//     service-resolver, and every Service exists in the catalog (registered,
//     or once registered: it has a VIP at mesh/vip/<name>);
//   - a resolver may not drop a subset a stored route still sends to;
//   - each stored route set of a destination gets Version n+1, and a copy is
//     kept at mesh/route-history/<dest>/<n> (outside mesh/config/, so agents
//     do not receive it), the last HISTORY_KEEP of them. A delete is a
//     version too (no routes), so it can be rolled back.

import { badRequest } from '../../../lib/errors.ts';
import { referencesOf, RESOLVER_KIND, resolverKind, ROUTER_KIND, routerKind, type StoredResolver, type StoredRoute, type StoredRouter } from '../../../config/routes.ts';
import { listAllServices } from '../../catalog/catalog.ts';
import { vipKey } from '../../catalog/vips.ts';
import type { Txn } from '../../store/store.ts';
import { CONFIG_PREFIX } from './config.ts';
import type { ConfigEntry, ConfigKindSpec } from './config-kind.ts';

export const ROUTER_PREFIX = `${CONFIG_PREFIX}${ROUTER_KIND}/`;
export const RESOLVER_PREFIX = `${CONFIG_PREFIX}${RESOLVER_KIND}/`;
export const HISTORY_PREFIX = 'mesh/route-history/';

/** Versions kept per destination; older ones are dropped as new ones come. */
export const HISTORY_KEEP = 100;

/** Zero-padded, so a prefix listing comes back in version order. */
export const historyKey = (destination: string, version: number) => `${HISTORY_PREFIX}${destination}/${String(version).padStart(10, '0')}`;

/** One stored version of a destination's route set. */
export interface HistoryRecord {
  Version: number;
  /** ISO time it was stored. */
  Time: string;
  Routes: StoredRoute[];
  /** put, delete, apply, or "rollback to N". */
  Cause: string;
}

export type Reader = Pick<Txn, 'get' | 'list'>;

const resolverOf = (r: Reader, service: string) => r.get<ConfigEntry>(RESOLVER_PREFIX + service)?.value.Config as StoredResolver | undefined;

function serviceKnown(r: Reader, service: string): boolean {
  return r.get(vipKey(service)) !== undefined || listAllServices(r).some((s) => s.value.Service === service);
}

/** Why each service or subset a route set names is missing; empty when all exist. */
export function missingReferences(r: Reader, destination: string, config: StoredRouter): string[] {
  return referencesOf(destination, config).flatMap((ref) => {
    if (ref.subset !== undefined) {
      if (resolverOf(r, ref.service)?.Subsets[ref.subset]) return [];
      return [`route ${ref.route}: ${ref.path}: subset "${ref.subset}" is not defined for service ${ref.service} (define it first: meshctl subset set ${ref.service} ${ref.subset} --meta version=${ref.subset})`];
    }
    if (serviceKnown(r, ref.service)) return [];
    return [`route ${ref.route}: ${ref.path}: service "${ref.service}" is not in the catalog (register it first, or check the name)`];
  });
}

/** Routes that send to a subset of service which the resolver config (undefined: deleted) no longer has. */
export function orphanedBy(r: Reader, service: string, config: StoredResolver | undefined): string[] {
  return r.list<ConfigEntry>(ROUTER_PREFIX).flatMap((e) =>
    referencesOf(e.value.Name, e.value.Config as StoredRouter)
      .filter((ref) => ref.service === service && ref.subset !== undefined && !config?.Subsets[ref.subset])
      .map((ref) => `subset "${ref.subset}" of ${service} is used by route ${ref.route} of ${e.value.Name} (${ref.path}); change or delete that route first`),
  );
}

export function lastVersion(r: Reader, destination: string): number {
  const records = r.list<HistoryRecord>(`${HISTORY_PREFIX}${destination}/`);
  return records.reduce((max, e) => Math.max(max, e.value.Version), 0);
}

/** Records routes as the destination's next version in its history; answers that version. */
export function recordVersion(txn: Txn, destination: string, routes: StoredRoute[], now: number, cause: string): number {
  const version = lastVersion(txn, destination) + 1;
  txn.put(historyKey(destination, version), { Version: version, Time: new Date(now).toISOString(), Routes: routes, Cause: cause } satisfies HistoryRecord);
  txn.delete(historyKey(destination, version - HISTORY_KEEP));
  return version;
}

/** Stores a route set (or, with undefined, its deletion) as the destination's next version; answers the Config stored. */
export function storeVersion(txn: Txn, destination: string, config: StoredRouter | undefined, now: number, cause: string): StoredRouter | undefined {
  const version = recordVersion(txn, destination, config?.Routes ?? [], now, cause);
  if (!config) return undefined;
  const stored = { Version: version, Routes: config.Routes };
  txn.put(ROUTER_PREFIX + destination, { Kind: ROUTER_KIND, Name: destination, Config: stored } satisfies ConfigEntry);
  return stored;
}

export function refuse(what: string, problems: readonly string[]): never {
  throw badRequest(`Invalid ${what}: ${problems.join('; ')}`);
}

/** service-router through the generic kind routes: references checked, versioned, history kept. */
export const routerApiKind: ConfigKindSpec = {
  ...routerKind,
  onWrite(txn, name, config, now) {
    const routes = config as StoredRouter;
    const missing = missingReferences(txn, name, routes);
    if (missing.length > 0) refuse(`${ROUTER_KIND} "${name}"`, missing);
    return { Version: recordVersion(txn, name, routes.Routes, now, 'put'), Routes: routes.Routes };
  },
  onDelete(txn, name, now) {
    storeVersion(txn, name, undefined, now, 'delete');
  },
};

/** service-resolver through the generic kind routes: may not drop a subset a route uses. */
export const resolverApiKind: ConfigKindSpec = {
  ...resolverKind,
  onWrite(txn, name, config) {
    const orphans = orphanedBy(txn, name, config as StoredResolver);
    if (orphans.length > 0) refuse(`${RESOLVER_KIND} "${name}"`, orphans);
    return config;
  },
  onDelete(txn, name) {
    const orphans = orphanedBy(txn, name, undefined);
    if (orphans.length > 0) refuse(`deletion of ${RESOLVER_KIND} "${name}"`, orphans);
  },
};
