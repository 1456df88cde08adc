// service-router and service-resolver: where a request to a service goes.
// Consul's config entries of those names, with Istio's per-route extras
// (faults, mirroring, redirects) folded in.
//
// service-router, Name = the destination service:
//   { Version?, Routes: [{ Name, Match?, Destination?: { Split: [{ Service?, Subset?, Weight }] },
//                          Timeout?, Retries?, RequestHeaders?, PrefixRewrite?, Redirect?,
//                          Fault?, Mirror? }] }
// The rules are tried in order and the first whose Match matches decides; a
// route without Match (or with an empty one) matches every request. A route
// either sends (Destination) or answers itself (Redirect), never both; the
// settings that only make sense when sending are refused on a redirect
// rather than ignored. Version is the server's: it numbers each stored set.
//
// service-resolver, Name = a service:
//   { Subsets: { v2: { Filter: { Tags?: [...], Meta?: { version: 'v2' } } } } }
// An instance is in a subset when it has every tag and every meta value.
//
// Shapes only, here: that a named subset or service exists is the server's
// check (referencesOf lists what to check). Matching is route-table.ts.

import { z } from 'zod';
import { duration, RETRY_ON, SERVICE_NAME, wholeNumber } from './service-defaults.ts';
import { httpPath, method, regex } from './intentions.ts';
import { expecting, settingsFor, type Checked, type SettingKey } from './kind.ts';
import { MeshError } from '../lib/errors.ts';

export const ROUTER_KIND = 'service-router';
export const RESOLVER_KIND = 'service-resolver';
export const REDIRECT_STATUSES = [301, 302, 307, 308] as const;
export const DEFAULT_REDIRECT_STATUS = 302;

/** Route and subset names: letters, digits, dot, dash and underscore, at most 64. */
export const ROUTE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$/;
export const SUBSET_NAME = ROUTE_NAME;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

// ---- Values.

const serviceName = z.string(expecting('a service name')).regex(SERVICE_NAME, expecting('a service name (letters, digits and dashes)'));
const subsetName = z.string(expecting('a subset name')).regex(SUBSET_NAME, expecting('a subset name (letters, digits, ., _ and -)'));
const headerName = z.string(expecting('a header name')).regex(HEADER_NAME, expecting('a header name'));
const text = (what: string) => z.string(expecting(what));
/**
 * Headers a route may not add, set or remove: the ones that frame the
 * request or the connection between the proxies (a route that set
 * Content-Length or Transfer-Encoding would smuggle a second request onto a
 * shared connection) and Host.
 */
const PROTECTED_HEADERS = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect', 'http2-settings']);
const editableHeaderName = headerName.refine((name) => !PROTECTED_HEADERS.has(name.toLowerCase()), { message: 'frames the request or the connection, so no route may edit it' });
/** Printable text and tabs only: CR, LF or NUL would split the header block. */
const headerValue = z.string(expecting('a header value')).regex(/^[\t\x20-\x7e\x80-\xff]*$/, expecting('a header value without CR, LF or control characters'));
const editableHeaderMap = z.record(headerName, headerValue, expecting('a map of header name to value')).superRefine((map, ctx) => {
  for (const name of Object.keys(map)) {
    if (PROTECTED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'frames the request or the connection, so no route may edit it' });
  }
});
const percent = z.number(expecting('a percentage from 0 to 100')).min(0, expecting('a percentage from 0 to 100')).max(100, expecting('a percentage from 0 to 100'));

/** Exactly one of keys is given; the message names what was given. */
function exactlyOne<T extends object>(value: T, keys: readonly (keyof T & string)[], what: string): string | undefined {
  const given = keys.filter((k) => value[k] !== undefined);
  return given.length === 1 ? undefined : `give exactly one of ${keys.join(', ')} for ${what}${given.length ? `, got ${given.join(', ')}` : ''}`;
}

// ---- service-router.

const router = settingsFor(() => routerSchema, {
  Path: 'PathPrefix',
  Prefix: 'PathPrefix',
  Method: 'Methods',
  Headers: 'Header',
  QueryParam: 'Query',
  Destinations: 'Destination',
  Splits: 'Split',
  Weights: 'Split',
  Retry: 'Retries',
  Attempts: 'NumRetries',
  Rewrite: 'PrefixRewrite',
  Faults: 'Fault',
  Mirrors: 'Mirror',
  Rules: 'Routes',
  Route: 'Routes',
});
const group = router.group;

const headerMatch = group(['Routes', 'Match', 'Header'], {
  Name: headerName,
  Exact: text('a value').optional(),
  Prefix: text('a value').optional(),
  Regex: regex.optional(),
  Present: z.literal(true, expecting('true')).optional(),
  Absent: z.literal(true, expecting('true')).optional(),
}).superRefine((h, ctx) => {
  const problem = exactlyOne(h, ['Exact', 'Prefix', 'Regex', 'Present', 'Absent'], `header ${h.Name}`);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const queryMatch = group(['Routes', 'Match', 'Query'], {
  Name: z.string(expecting('a query parameter name')).min(1, expecting('a query parameter name')),
  Exact: text('a value').optional(),
  Regex: regex.optional(),
  Present: z.literal(true, expecting('true')).optional(),
}).superRefine((q, ctx) => {
  const problem = exactlyOne(q, ['Exact', 'Regex', 'Present'], `query parameter ${q.Name}`);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const match = group(['Routes', 'Match'], {
  PathExact: httpPath.optional(),
  PathPrefix: httpPath.optional(),
  PathRegex: regex.optional(),
  Methods: z.array(method, expecting('a list of HTTP methods')).min(1, expecting('at least one method')).optional(),
  Header: z.array(headerMatch, expecting('a list of header matches')).optional(),
  Query: z.array(queryMatch, expecting('a list of query matches')).optional(),
  Source: serviceName.optional(),
}).superRefine((m, ctx) => {
  const paths = (['PathExact', 'PathPrefix', 'PathRegex'] as const).filter((k) => m[k] !== undefined);
  if (paths.length > 1) ctx.addIssue({ code: 'custom', message: `give at most one of PathExact, PathPrefix, PathRegex, got ${paths.join(', ')}` });
});

const splitTarget = group(['Routes', 'Destination', 'Split'], {
  Service: serviceName.optional(),
  Subset: subsetName.optional(),
  Weight: percent,
});

const destination = group(['Routes', 'Destination'], {
  Split: z.array(splitTarget, expecting('a list of targets with weights')).min(1, expecting('at least one target')),
}).superRefine((d, ctx) => {
  const sum = d.Split.reduce((total, t) => total + t.Weight, 0);
  if (Math.abs(sum - 100) > 1e-6) ctx.addIssue({ code: 'custom', path: ['Split'], message: `weights must add up to 100, got ${Number(sum.toFixed(6))} (${d.Split.map((t) => t.Weight).join(' + ')})` });
  const seen = new Set<string>();
  for (const [i, t] of d.Split.entries()) {
    const key = `${t.Service ?? ''}/${t.Subset ?? ''}`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['Split', i], message: `target ${describeTarget(t)} appears twice; give it once with the summed weight` });
    seen.add(key);
  }
});

const route = group(['Routes'], {
  Name: z.string(expecting('a route name')).regex(ROUTE_NAME, expecting('a route name (letters, digits, ., _ and -, at most 64)')),
  Match: match.optional(),
  Destination: destination.optional(),
  Timeout: duration().optional(),
  Retries: group(['Routes', 'Retries'], {
    NumRetries: wholeNumber(0).max(10, expecting('at most 10 retries')).optional(),
    PerTryTimeout: duration().optional(),
    RetryOn: z.array(z.enum(RETRY_ON, expecting(`one of ${RETRY_ON.join(', ')}`)), expecting(`a list of ${RETRY_ON.join(', ')}`)).optional(),
  }).optional(),
  RequestHeaders: group(['Routes', 'RequestHeaders'], {
    Add: editableHeaderMap.optional(),
    Set: editableHeaderMap.optional(),
    Remove: z.array(editableHeaderName, expecting('a list of header names')).optional(),
  }).optional(),
  PrefixRewrite: httpPath.optional(),
  Redirect: group(['Routes', 'Redirect'], {
    Path: httpPath.optional(),
    Status: z.union(REDIRECT_STATUSES.map((s) => z.literal(s)), expecting(`one of ${REDIRECT_STATUSES.join(', ')}`)).optional(),
  }).optional(),
  Fault: group(['Routes', 'Fault'], {
    Delay: group(['Routes', 'Fault', 'Delay'], { Duration: duration(), Percent: percent }).optional(),
    Abort: group(['Routes', 'Fault', 'Abort'], { Status: wholeNumber(200, 599), Percent: percent }).optional(),
  }).optional(),
  Mirror: group(['Routes', 'Mirror'], { Service: serviceName, Subset: subsetName.optional(), Percent: percent }).optional(),
}).superRefine((r, ctx) => {
  if (r.Redirect === undefined && r.Destination === undefined) ctx.addIssue({ code: 'custom', message: `route ${r.Name} needs a Destination (or a Redirect)` });
  if (r.Redirect !== undefined) {
    // A redirect answers the request itself: what only applies when sending is refused, not ignored.
    for (const key of ['Destination', 'Timeout', 'Retries', 'RequestHeaders', 'PrefixRewrite', 'Mirror'] as const) {
      if (r[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `route ${r.Name} redirects, so it sends nowhere: leave ${key} out or drop the Redirect` });
    }
  }
  if (r.PrefixRewrite !== undefined && r.Match?.PathPrefix === undefined) {
    ctx.addIssue({ code: 'custom', path: ['PrefixRewrite'], message: `rewrites the prefix Match.PathPrefix matched, so route ${r.Name} needs Match.PathPrefix` });
  }
  const h = r.RequestHeaders;
  if (h?.Remove) {
    const setting = new Set([...Object.keys(h.Add ?? {}), ...Object.keys(h.Set ?? {})].map((n) => n.toLowerCase()));
    for (const [i, name] of h.Remove.entries()) {
      if (setting.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['RequestHeaders', 'Remove', i], message: `header ${name} is both set and removed; give one` });
    }
  }
});

export const routerSchema = group([], {
  Version: wholeNumber(1).optional(),
  Routes: z.array(route, expecting('a list of routes')),
}).superRefine((entry, ctx) => {
  const seen = new Set<string>();
  for (const [i, r] of entry.Routes.entries()) {
    if (seen.has(r.Name)) ctx.addIssue({ code: 'custom', path: ['Routes', i, 'Name'], message: `route ${r.Name} appears twice; route names are unique per destination` });
    seen.add(r.Name);
  }
});

export type StoredRouter = z.infer<typeof routerSchema>;
export type StoredRoute = StoredRouter['Routes'][number];
export type StoredMatch = NonNullable<StoredRoute['Match']>;
export type StoredSplitTarget = NonNullable<StoredRoute['Destination']>['Split'][number];

export const checkRouter = (input: unknown): Checked<StoredRouter> => router.check<StoredRouter>(input);

// ---- service-resolver.

const resolver = settingsFor(() => resolverSchema, { Subset: 'Subsets', Filters: 'Filter', Tag: 'Tags', Labels: 'Meta', Metadata: 'Meta' });

const subset = resolver.group(['Subsets'], {
  Filter: resolver.group(['Subsets', 'Filter'], {
    Tags: z.array(z.string(expecting('a tag')).min(1, expecting('a tag')), expecting('a list of tags')).optional(),
    Meta: z.record(z.string(expecting('a meta key')).min(1, expecting('a meta key')), text('a meta value'), expecting('a map of meta key to value')).optional(),
  }).superRefine((f, ctx) => {
    if ((f.Tags?.length ?? 0) === 0 && Object.keys(f.Meta ?? {}).length === 0) ctx.addIssue({ code: 'custom', message: 'give at least one of Tags, Meta (a subset of every instance is the service itself)' });
  }),
});

export const resolverSchema = resolver.group([], {
  Subsets: z.record(z.string(), subset, expecting('a map of subset name to { Filter }')),
}).superRefine((entry, ctx) => {
  for (const name of Object.keys(entry.Subsets)) {
    if (!SUBSET_NAME.test(name)) ctx.addIssue({ code: 'custom', path: ['Subsets', name], message: `expected a subset name (letters, digits, ., _ and -, at most 64), got ${JSON.stringify(name)}` });
  }
});

export type StoredResolver = z.infer<typeof resolverSchema>;
export type StoredSubset = StoredResolver['Subsets'][string];

export const checkResolver = (input: unknown): Checked<StoredResolver> => resolver.check<StoredResolver>(input);

// ---- Descriptions, one line each, as the CLI and the history print them.

export function describeTarget(t: { Service?: string | undefined; Subset?: string | undefined }, destination?: string): string {
  const service = t.Service ?? destination ?? '(destination)';
  return t.Subset === undefined ? service : `${service}:${t.Subset}`;
}

/** "path-prefix /api, methods GET, header x-canary=1, query debug present, source web"; "everything" when empty. */
export function describeMatch(m: StoredMatch | undefined): string {
  const parts: string[] = [];
  if (m?.PathExact !== undefined) parts.push(`path-exact ${m.PathExact}`);
  if (m?.PathPrefix !== undefined) parts.push(`path-prefix ${m.PathPrefix}`);
  if (m?.PathRegex !== undefined) parts.push(`path-regex ${m.PathRegex}`);
  if (m?.Methods) parts.push(`methods ${m.Methods.join(',')}`);
  for (const h of m?.Header ?? []) {
    if (h.Exact !== undefined) parts.push(`header ${h.Name}=${h.Exact}`);
    else if (h.Prefix !== undefined) parts.push(`header ${h.Name} prefix ${h.Prefix}`);
    else if (h.Regex !== undefined) parts.push(`header ${h.Name} regex ${h.Regex}`);
    else parts.push(`header ${h.Name} ${h.Absent ? 'absent' : 'present'}`);
  }
  for (const q of m?.Query ?? []) {
    if (q.Exact !== undefined) parts.push(`query ${q.Name}=${q.Exact}`);
    else if (q.Regex !== undefined) parts.push(`query ${q.Name} regex ${q.Regex}`);
    else parts.push(`query ${q.Name} present`);
  }
  if (m?.Source !== undefined) parts.push(`source ${m.Source}`);
  return parts.length ? parts.join(', ') : 'everything';
}

/** "canary: header x-canary=1 → api:v2" or "old: path-prefix /v1 → redirect 301 /v2". */
export function describeRoute(r: StoredRoute, destination: string): string {
  const to = r.Redirect
    ? `redirect ${r.Redirect.Status ?? DEFAULT_REDIRECT_STATUS}${r.Redirect.Path ? ` ${r.Redirect.Path}` : ''}`
    : (r.Destination?.Split ?? []).map((t) => `${describeTarget(t, destination)}${r.Destination!.Split.length > 1 ? `=${t.Weight}` : ''}`).join(' ');
  return `${r.Name}: ${describeMatch(r.Match)} → ${to}`;
}

// ---- What the server checks exists.

export interface RouteReference {
  readonly route: string;
  /** The field, as FieldError paths read: "Routes[1].Destination.Split[0].Subset". */
  readonly path: string;
  readonly service: string;
  readonly subset?: string;
}

/** Every service and subset a route set names (a Split without Service names the destination). */
export function referencesOf(destination: string, config: StoredRouter): RouteReference[] {
  const out: RouteReference[] = [];
  for (const [i, r] of config.Routes.entries()) {
    for (const [j, t] of (r.Destination?.Split ?? []).entries()) {
      const at = `Routes[${i}].Destination.Split[${j}]`;
      out.push({ route: r.Name, path: t.Subset !== undefined ? `${at}.Subset` : `${at}.Service`, service: t.Service ?? destination, ...(t.Subset !== undefined ? { subset: t.Subset } : {}) });
    }
    if (r.Mirror) out.push({ route: r.Name, path: r.Mirror.Subset !== undefined ? `Routes[${i}].Mirror.Subset` : `Routes[${i}].Mirror.Service`, service: r.Mirror.Service, ...(r.Mirror.Subset !== undefined ? { subset: r.Mirror.Subset } : {}) });
  }
  return out;
}

// ---- The kinds, as the CLI's and the API's kind tables take them.

const noSetters = (kind: string, use: string) => (): Record<string, unknown> => {
  throw new MeshError('MESH_E_USAGE', `${kind} takes no key=value settings`, { hint: `use ${use}, or meshctl config set ${kind} NAME -f FILE` });
};

export const routerKind = Object.freeze({
  kind: ROUTER_KIND,
  nameRule: SERVICE_NAME,
  nameHelp: 'the destination: a service name (letters, digits and dashes)',
  check: checkRouter,
  applySetters: noSetters(ROUTER_KIND, 'meshctl route add|delete|apply'),
  withDefaults: (stored: object | undefined): object => stored ?? { Routes: [] },
  keys: Object.freeze([]) as readonly SettingKey[],
});

export const resolverKind = Object.freeze({
  kind: RESOLVER_KIND,
  nameRule: SERVICE_NAME,
  nameHelp: 'a service name (letters, digits and dashes)',
  check: checkResolver,
  applySetters: noSetters(RESOLVER_KIND, 'meshctl subset set|delete'),
  withDefaults: (stored: object | undefined): object => stored ?? { Subsets: {} },
  keys: Object.freeze([]) as readonly SettingKey[],
});
