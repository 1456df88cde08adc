// Routes over the API, beside their entries (/v1/mesh/config/service-router/
// <dest> and /service-resolver/<svc>, through the generic kind routes, whose
// write hooks in route-store.ts check references and number versions):
//   GET  /v1/mesh/routes/<dest>/history            [{Version, Time, Cause, Routes, Summary, Current}]
//   POST /v1/mesh/routes/<dest>/rollback?to=N      stores version N's routes as a new version
//   GET  /v1/mesh/routes/<dest>/explain?path=&method=&header=k:v&query=k=v&source=
//   POST /v1/mesh/routes/apply                     {Entries: [{Kind, Name, Config}]}: all or nothing
// Writes need operator:write, reads operator:read.

import { badRequest, MeshError } from '../../../lib/errors.ts';
import { normalizeRequestTarget } from '../../../lib/http/path-normalize.ts';
import { describeFieldErrors } from '../../../config/kind.ts';
import { checkResolver, checkRouter, describeRoute, RESOLVER_KIND, resolverKind, ROUTER_KIND, routerKind, type StoredResolver, type StoredRouter } from '../../../config/routes.ts';
import { compileRoutes, explainRoute, type RouteRequest } from '../../../config/route-table.ts';
import type { Store } from '../../store/store.ts';
import type { Handler, RequestContext } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { parseJsonBody } from '../consul/decode.ts';
import type { ConfigEntry } from './config-kind.ts';
import { HISTORY_PREFIX, historyKey, lastVersion, missingReferences, orphanedBy, refuse, RESOLVER_PREFIX, ROUTER_PREFIX, storeVersion, type HistoryRecord } from './route-store.ts';

// ---- Beside the entries.

function destinationOf(ctx: RequestContext): string {
  const name = ctx.params.dest;
  if (name === undefined || !routerKind.nameRule.test(name)) throw badRequest(`Invalid destination "${name ?? ''}": expected ${routerKind.nameHelp}`);
  return name;
}

/** A request as explain takes it from the query: path (with its own ?query), method, header=k:v, query=k=v, source. */
export function explainRequest(query: URLSearchParams): RouteRequest {
  const target = query.get('path') ?? '/';
  const normalized = normalizeRequestTarget(target);
  if (!normalized.ok) throw badRequest(`Invalid path ${JSON.stringify(target)}: ${normalized.reason} (the proxy refuses such a request)`);
  const method = query.get('method') ?? 'GET';
  if (!/^[A-Z][A-Z0-9_-]*$/.test(method)) throw badRequest(`Invalid method "${method}": expected an HTTP method in capitals, such as GET`);
  const headers = new Map<string, string>();
  for (const h of query.getAll('header')) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw badRequest(`Invalid header "${h}": expected NAME:VALUE`);
    headers.set(h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim());
  }
  const params = new Map<string, string[]>();
  const add = (k: string, v: string) => params.set(k, [...(params.get(k) ?? []), v]);
  const q = target.indexOf('?');
  if (q >= 0) for (const [k, v] of new URLSearchParams(target.slice(q + 1))) add(k, v);
  for (const p of query.getAll('query')) {
    const eq = p.indexOf('=');
    if (eq === 0) throw badRequest(`Invalid query "${p}": expected NAME=VALUE (or NAME)`);
    if (eq < 0) add(p, '');
    else add(p.slice(0, eq), p.slice(eq + 1));
  }
  return { path: normalized.path, method, header: (name) => headers.get(name), query: params, source: query.get('source') ?? '' };
}

export function loadRouteTable(store: Pick<Store, 'list'>) {
  const entries = (prefix: string) => store.list<ConfigEntry>(prefix).map((e) => ({ Name: e.value.Name, Config: e.value.Config }));
  return compileRoutes(entries(ROUTER_PREFIX), entries(RESOLVER_PREFIX), { onInvalid: () => undefined });
}

interface ApplyEntry {
  Kind: string;
  Name: string;
  Config: unknown;
}

/** Validates every entry of an apply (shape and names) before any transaction; all problems at once. */
function checkApply(body: unknown): ApplyEntry[] {
  const list = (body as { Entries?: unknown } | null)?.Entries;
  if (!Array.isArray(list) || list.length === 0) throw badRequest('Missing entries: give {"Entries": [{"Kind": "service-router" | "service-resolver", "Name": SERVICE, "Config": {...}}]}');
  const problems: string[] = [];
  const seen = new Set<string>();
  const out: ApplyEntry[] = [];
  for (const [i, raw] of list.entries()) {
    const { Kind, Name, Config } = (raw ?? {}) as Partial<ApplyEntry>;
    const spec = Kind === ROUTER_KIND ? routerKind : Kind === RESOLVER_KIND ? resolverKind : undefined;
    if (!spec) {
      problems.push(`Entries[${i}].Kind: expected ${ROUTER_KIND} or ${RESOLVER_KIND}, got ${JSON.stringify(Kind)}`);
      continue;
    }
    if (typeof Name !== 'string' || !spec.nameRule.test(Name)) {
      problems.push(`Entries[${i}].Name: expected ${spec.nameHelp}, got ${JSON.stringify(Name)}`);
      continue;
    }
    if (seen.has(`${Kind}/${Name}`)) problems.push(`Entries[${i}]: ${Kind} ${Name} is given twice`);
    seen.add(`${Kind}/${Name}`);
    const checked = (Kind === ROUTER_KIND ? checkRouter : checkResolver)(Config);
    if (!checked.ok) problems.push(`${Kind} "${Name}": ${describeFieldErrors(checked.errors)}`);
    else out.push({ Kind: spec.kind, Name, Config: checked.value });
  }
  if (problems.length > 0) refuse('apply, nothing was stored', problems);
  return out;
}

export function addRouteRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { store } = deps;

  router.add('GET', '/v1/mesh/routes/:dest/history', (ctx) => {
    const destination = destinationOf(ctx);
    ctx.require({ resource: 'operator', access: 'read' });
    const current = (store.get<ConfigEntry>(ROUTER_PREFIX + destination)?.value.Config as StoredRouter | undefined)?.Version;
    const records = store.list<HistoryRecord>(`${HISTORY_PREFIX}${destination}/`).map((e) => e.value);
    return {
      json: records.map((r) => ({
        Version: r.Version,
        Time: r.Time,
        Cause: r.Cause,
        Routes: r.Routes.map((route) => route.Name),
        Summary: r.Routes.length === 0 ? 'no routes' : r.Routes.map((route) => describeRoute(route, destination)).join(' | '),
        Current: r.Version === current,
      })),
    };
  });

  router.add('POST', '/v1/mesh/routes/:dest/rollback', async (ctx) => {
    const destination = destinationOf(ctx);
    ctx.require({ resource: 'operator', access: 'write' });
    const to = ctx.query.get('to') ?? '';
    if (!/^[1-9]\d{0,9}$/.test(to)) throw badRequest(`Invalid to "${to}": expected a version number (see GET /v1/mesh/routes/${destination}/history)`);
    const { result } = await store.transact((txn) => {
      const record = txn.get<HistoryRecord>(historyKey(destination, Number(to)))?.value;
      if (!record) throw new MeshError('MESH_E_NOT_FOUND', `${destination} has no route version ${to} (see meshctl route history ${destination})`);
      if (record.Routes.length === 0) {
        const existed = txn.get(ROUTER_PREFIX + destination) !== undefined;
        storeVersion(txn, destination, undefined, deps.clock.now(), `rollback to ${to}`);
        if (existed) txn.delete(ROUTER_PREFIX + destination);
        return { Version: lastVersion(txn, destination), RolledBackTo: record.Version, Routes: [] as string[] };
      }
      const config = { Routes: record.Routes };
      const missing = missingReferences(txn, destination, config);
      if (missing.length > 0) refuse(`rollback of ${destination} to version ${to}`, missing);
      const stored = storeVersion(txn, destination, config, deps.clock.now(), `rollback to ${to}`)!;
      return { Version: stored.Version, RolledBackTo: record.Version, Routes: stored.Routes.map((r) => r.Name) };
    });
    return { json: result };
  });

  router.add('GET', '/v1/mesh/routes/:dest/explain', (ctx) => {
    const destination = destinationOf(ctx);
    ctx.require({ resource: 'operator', access: 'read' });
    const request = explainRequest(ctx.query);
    const table = loadRouteTable(store);
    const got = explainRoute(table, destination, request);
    return {
      json: {
        Destination: destination,
        Version: table.version(destination) ?? null,
        Path: request.path,
        Rule: got.rule ?? null,
        Index: got.index,
        Targets: got.targets.map((t) => ({ Service: t.service, ...(t.subset !== undefined ? { Subset: t.subset } : {}), Weight: t.weight })),
        ...(got.redirect ? { Redirect: { ...(got.redirect.path !== undefined ? { Path: got.redirect.path } : {}), Status: got.redirect.status } } : {}),
        Why: got.why,
      },
    };
  });

  router.add('POST', '/v1/mesh/routes/apply', async (ctx) => {
    ctx.require({ resource: 'operator', access: 'write' });
    const entries = checkApply(parseJsonBody(await ctx.body()));
    const now = deps.clock.now();
    const { result } = await store.transact((txn) => {
      // Resolvers first, so routes may name the subsets this apply defines; then every check against the state after the whole apply.
      for (const e of entries.filter((e) => e.Kind === RESOLVER_KIND)) txn.put(RESOLVER_PREFIX + e.Name, { Kind: e.Kind, Name: e.Name, Config: e.Config } satisfies ConfigEntry);
      const routers = entries.filter((e) => e.Kind === ROUTER_KIND);
      const problems = routers.flatMap((e) => missingReferences(txn, e.Name, e.Config as StoredRouter).map((p) => `${ROUTER_KIND} "${e.Name}": ${p}`));
      if (problems.length > 0) refuse('apply, nothing was stored', problems);
      const stored = entries.map((e) => (e.Kind === ROUTER_KIND ? { Kind: e.Kind, Name: e.Name, Version: storeVersion(txn, e.Name, e.Config as StoredRouter, now, 'apply')!.Version } : { Kind: e.Kind, Name: e.Name }));
      const orphans = entries.filter((e) => e.Kind === RESOLVER_KIND).flatMap((e) => orphanedBy(txn, e.Name, e.Config as StoredResolver));
      if (orphans.length > 0) refuse('apply, nothing was stored', orphans);
      return stored;
    });
    return { json: { Stored: result } };
  });
}
