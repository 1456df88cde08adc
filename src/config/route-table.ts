// The routing decision: which rule of a destination's route set a request
// matches, and what that rule does. Pure; compiled once per config snapshot
// (so a proxy swaps whole tables: each request sees the old set or the new
// one, never a mix), asked per request.
//
// The rules are tried in order; the first whose every condition holds wins.
// No route set, or no rule matching: match() gives undefined and the caller
// sends to the whole service, as without routes.
//
// Conditions: the path given must already be normalized and without the
// query (lib/http/path-normalize.ts); regexes are RE2 and match the whole
// value; header names are asked in lowercase; a query condition holds when
// any of the parameter's values satisfies it; an absent header or parameter
// fails every value condition.
//
// A target or mirror may name a subset its service's resolver no longer has
// (deleted after the route was stored): subsetFilter says undefined and the
// caller decides (the proxy answers 503 rather than sending to every instance).

import { compileRegex } from './intentions.ts';
import { parseGoDuration } from '../lib/duration.ts';
import { describeFieldErrors, deepFreeze, type FieldError } from './kind.ts';
import { MeshError } from '../lib/errors.ts';
import { checkResolver, checkRouter, describeMatch, DEFAULT_REDIRECT_STATUS, RESOLVER_KIND, ROUTER_KIND, type StoredMatch, type StoredResolver, type StoredRoute, type StoredRouter } from './routes.ts';
import type { RetryOn } from './service-defaults.ts';

export interface RouteRequest {
  /** Normalized, without the query. */
  readonly path: string;
  readonly query: ReadonlyMap<string, readonly string[]>;
  readonly method: string;
  /** A header's value by lowercase name; undefined when absent. */
  readonly header: (lowercaseName: string) => string | undefined;
  /** The calling service. */
  readonly source: string;
}

export interface RouteTarget {
  readonly service: string;
  readonly subset?: string;
  /** 0..100; a route's targets add up to 100. */
  readonly weight: number;
}

export interface CompiledRoute {
  readonly name: string;
  /** Empty for a redirect. */
  readonly targets: readonly RouteTarget[];
  readonly timeoutMs?: number;
  readonly retries?: { readonly numRetries?: number; readonly perTryTimeoutMs?: number; readonly retryOn?: readonly RetryOn[] };
  /** Header names in lowercase. */
  readonly headers: { readonly add: Readonly<Record<string, string>>; readonly set: Readonly<Record<string, string>>; readonly remove: readonly string[] };
  readonly prefixRewrite?: { readonly from: string; readonly to: string };
  /** path undefined: the request's own path. */
  readonly redirect?: { readonly path?: string; readonly status: number };
  readonly fault?: { readonly delay?: { readonly ms: number; readonly percent: number }; readonly abort?: { readonly status: number; readonly percent: number } };
  readonly mirror?: { readonly service: string; readonly subset?: string; readonly percent: number };
  /** The rule's match as one line ("path-prefix /api, header x-canary=1"; "everything"). */
  readonly matchText: string;
}

export interface RouteMatch {
  readonly route: CompiledRoute;
  /** The rule's position in its set, from 0. */
  readonly index: number;
}

export interface SubsetInstance {
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
}

export interface RouteTable {
  match(destination: string, request: RouteRequest): RouteMatch | undefined;
  /** The compiled rules of a destination, in order; empty when it has none. */
  routes(destination: string): readonly CompiledRoute[];
  /** undefined: the service has no such subset. */
  subsetFilter(service: string, subset: string): ((instance: SubsetInstance) => boolean) | undefined;
  /** The stored set's Version (the server numbers them); undefined without a set. */
  version(destination: string): number | undefined;
  /** Destinations that have a route set. */
  destinations(): readonly string[];
}

export interface RouteEntry<C> {
  readonly Name: string;
  readonly Config: C;
}

export interface CompileOptions {
  /**
   * Called for an entry that fails its schema, which is then left out (an
   * agent keeps routing the other services). Without it, compileRoutes throws.
   */
  readonly onInvalid?: (kind: string, name: string, errors: readonly FieldError[]) => void;
}

// ---- Conditions: each knows what it wants and what it saw, for explain.

interface Condition {
  readonly text: string;
  readonly test: (r: RouteRequest) => boolean;
  /** What the request had, said when the condition fails. */
  readonly saw: (r: RouteRequest) => string;
}

const quoted = (value: string | undefined) => (value === undefined ? 'absent' : JSON.stringify(value));

function valueTest(spec: { Exact?: string | undefined; Prefix?: string | undefined; Regex?: string | undefined }): (value: string) => boolean {
  if (spec.Exact !== undefined) return (v) => v === spec.Exact;
  if (spec.Prefix !== undefined) return (v) => v.startsWith(spec.Prefix as string);
  if (spec.Regex !== undefined) {
    const re = compileRegex(spec.Regex);
    return (v) => re.matches(v);
  }
  return () => true; // Present
}

function conditionsOf(m: StoredMatch | undefined): Condition[] {
  if (!m) return [];
  const out: Condition[] = [];
  const path = (r: RouteRequest) => `path ${r.path}`;
  if (m.PathExact !== undefined) out.push({ text: `path-exact ${m.PathExact}`, test: (r) => r.path === m.PathExact, saw: path });
  if (m.PathPrefix !== undefined) {
    const prefix = m.PathPrefix;
    // A string prefix, as Consul's PathPrefix and the intentions' ones: /api matches /apix too; give /api/ for whole segments.
    out.push({ text: `path-prefix ${prefix}`, test: (r) => r.path.startsWith(prefix), saw: path });
  }
  if (m.PathRegex !== undefined) {
    const re = compileRegex(m.PathRegex);
    out.push({ text: `path-regex ${m.PathRegex}`, test: (r) => re.matches(r.path), saw: path });
  }
  if (m.Methods) {
    const methods = new Set(m.Methods);
    out.push({ text: `methods ${m.Methods.join(',')}`, test: (r) => methods.has(r.method), saw: (r) => `method ${r.method}` });
  }
  for (const h of m.Header ?? []) {
    const name = h.Name.toLowerCase();
    const saw = (r: RouteRequest) => `header ${name} ${quoted(r.header(name))}`;
    const text = describeMatch({ Header: [h] });
    if (h.Absent) {
      out.push({ text, test: (r) => r.header(name) === undefined, saw });
      continue;
    }
    const test = valueTest(h);
    out.push({ text, test: (r) => ((v) => v !== undefined && test(v))(r.header(name)), saw });
  }
  for (const q of m.Query ?? []) {
    const test = valueTest(q);
    const saw = (r: RouteRequest) => `query ${q.Name} ${((vs) => (vs === undefined ? 'absent' : JSON.stringify(vs)))(r.query.get(q.Name))}`;
    out.push({ text: describeMatch({ Query: [q] }), test: (r) => (r.query.get(q.Name) ?? []).some(test), saw });
  }
  if (m.Source !== undefined) out.push({ text: `source ${m.Source}`, test: (r) => r.source === m.Source, saw: (r) => `source ${r.source || '(unknown)'}` });
  return out;
}

// ---- Compiling.

const ms = (text: string): number => parseGoDuration(text) as number;

function compileRoute(r: StoredRoute, destination: string): CompiledRoute {
  const lower = (record: Readonly<Record<string, string>> | undefined) => Object.fromEntries(Object.entries(record ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const retries = r.Retries && {
    ...(r.Retries.NumRetries !== undefined ? { numRetries: r.Retries.NumRetries } : {}),
    ...(r.Retries.PerTryTimeout !== undefined ? { perTryTimeoutMs: ms(r.Retries.PerTryTimeout) } : {}),
    ...(r.Retries.RetryOn !== undefined ? { retryOn: [...r.Retries.RetryOn] } : {}),
  };
  const fault = r.Fault && {
    ...(r.Fault.Delay ? { delay: { ms: ms(r.Fault.Delay.Duration), percent: r.Fault.Delay.Percent } } : {}),
    ...(r.Fault.Abort ? { abort: { status: r.Fault.Abort.Status, percent: r.Fault.Abort.Percent } } : {}),
  };
  return {
    name: r.Name,
    targets: (r.Destination?.Split ?? []).map((t) => ({ service: t.Service ?? destination, ...(t.Subset !== undefined ? { subset: t.Subset } : {}), weight: t.Weight })),
    ...(r.Timeout !== undefined ? { timeoutMs: ms(r.Timeout) } : {}),
    ...(retries ? { retries } : {}),
    headers: { add: lower(r.RequestHeaders?.Add), set: lower(r.RequestHeaders?.Set), remove: (r.RequestHeaders?.Remove ?? []).map((n) => n.toLowerCase()) },
    ...(r.PrefixRewrite !== undefined && r.Match?.PathPrefix !== undefined ? { prefixRewrite: { from: r.Match.PathPrefix, to: r.PrefixRewrite } } : {}),
    ...(r.Redirect ? { redirect: { ...(r.Redirect.Path !== undefined ? { path: r.Redirect.Path } : {}), status: r.Redirect.Status ?? DEFAULT_REDIRECT_STATUS } } : {}),
    ...(fault ? { fault } : {}),
    ...(r.Mirror ? { mirror: { service: r.Mirror.Service, ...(r.Mirror.Subset !== undefined ? { subset: r.Mirror.Subset } : {}), percent: r.Mirror.Percent } } : {}),
    matchText: describeMatch(r.Match),
  };
}

interface CompiledRule {
  readonly route: CompiledRoute;
  readonly conditions: readonly Condition[];
  readonly test: (r: RouteRequest) => boolean;
}

interface CompiledSet {
  readonly version: number | undefined;
  readonly rules: readonly CompiledRule[];
}

function validated<C>(kind: string, entry: RouteEntry<unknown>, check: (input: unknown) => { ok: true; value: C } | { ok: false; errors: readonly FieldError[] }, options: CompileOptions): C | undefined {
  const checked = check(entry.Config);
  if (checked.ok) return checked.value;
  if (options.onInvalid) {
    options.onInvalid(kind, entry.Name, checked.errors);
    return undefined;
  }
  throw new MeshError('MESH_E_BAD_REQUEST', `${kind} ${entry.Name}: ${describeFieldErrors(checked.errors)}`);
}

/**
 * Compiles the service-router and service-resolver entries of a snapshot.
 * Each entry is validated against its schema (a snapshot is read from the
 * store, which a KV write can reach around the API).
 */
export function compileRoutes(routerEntries: readonly RouteEntry<unknown>[], resolverEntries: readonly RouteEntry<unknown>[], options: CompileOptions = {}): RouteTable {
  const sets = new Map<string, CompiledSet>();
  for (const entry of routerEntries) {
    const config = validated<StoredRouter>(ROUTER_KIND, entry, checkRouter, options);
    if (!config) continue;
    const rules = config.Routes.map((r): CompiledRule => {
      const conditions = conditionsOf(r.Match);
      return { route: deepFreeze(compileRoute(r, entry.Name)), conditions, test: (req) => conditions.every((c) => c.test(req)) };
    });
    sets.set(entry.Name, { version: config.Version, rules });
  }
  const subsets = new Map<string, Map<string, (instance: SubsetInstance) => boolean>>();
  for (const entry of resolverEntries) {
    const config = validated<StoredResolver>(RESOLVER_KIND, entry, checkResolver, options);
    if (!config) continue;
    const byName = new Map<string, (instance: SubsetInstance) => boolean>();
    for (const [name, { Filter }] of Object.entries(config.Subsets)) {
      const tags = [...(Filter.Tags ?? [])];
      const meta = Object.entries(Filter.Meta ?? {});
      byName.set(name, (instance) => tags.every((t) => instance.tags.includes(t)) && meta.every(([k, v]) => Object.hasOwn(instance.meta, k) && instance.meta[k] === v));
    }
    subsets.set(entry.Name, byName);
  }
  return Object.freeze({
    match(destination: string, request: RouteRequest): RouteMatch | undefined {
      const rules = sets.get(destination)?.rules;
      if (!rules) return undefined;
      for (let index = 0; index < rules.length; index++) {
        const rule = rules[index] as CompiledRule;
        if (rule.test(request)) return { route: rule.route, index };
      }
      return undefined;
    },
    routes: (destination: string) => (sets.get(destination)?.rules ?? []).map((r) => r.route),
    subsetFilter: (service: string, subset: string) => subsets.get(service)?.get(subset),
    version: (destination: string) => sets.get(destination)?.version,
    destinations: () => [...sets.keys()].sort(),
    [EXPLAIN]: (destination: string) => sets.get(destination)?.rules,
  } satisfies RouteTable & Explainable);
}

/**
 * One target by weight: random() in [0, 1) picks a point on the targets'
 * weights laid end to end; weight-0 targets are never picked. A redirect has
 * no targets: undefined.
 */
export function pickTarget(route: CompiledRoute, random: () => number): RouteTarget | undefined {
  const total = route.targets.reduce((sum, t) => sum + t.weight, 0);
  if (total <= 0) return undefined;
  let point = random() * total;
  let last: RouteTarget | undefined;
  for (const t of route.targets) {
    if (t.weight <= 0) continue;
    if (point < t.weight) return t;
    point -= t.weight;
    last = t;
  }
  return last; // floating-point leftovers land on the last target that can be picked
}

// ---- Explaining, for `meshctl route explain`.

const EXPLAIN = Symbol('route rules');
interface Explainable {
  readonly [EXPLAIN]: (destination: string) => readonly CompiledRule[] | undefined;
}

export interface RouteExplanation {
  /** The rule that matched; undefined when none did (or there is no route set). */
  readonly rule: string | undefined;
  /** Its position, from 0; -1 when none matched. */
  readonly index: number;
  /** Where the request goes: the rule's targets, or the whole destination when none matched; empty for a redirect. */
  readonly targets: readonly RouteTarget[];
  readonly redirect?: { readonly path?: string; readonly status: number };
  /** A line per rule tried, in order ("#1 canary: no match: ..."; numbered from 1, as the CLI shows places): why it did or did not match. */
  readonly why: readonly string[];
}

export function explainRoute(table: RouteTable, destination: string, request: RouteRequest): RouteExplanation {
  const rules = (table as RouteTable & Partial<Explainable>)[EXPLAIN]?.(destination);
  const whole = [{ service: destination, weight: 100 }];
  if (!rules || rules.length === 0) return { rule: undefined, index: -1, targets: whole, why: [`${destination} has no routes: the request goes to every instance of ${destination}`] };
  const why: string[] = [];
  for (const [index, rule] of rules.entries()) {
    const failed = rule.conditions.filter((c) => !c.test(request));
    if (failed.length === 0) {
      why.push(`#${index + 1} ${rule.route.name}: matches (${rule.route.matchText})`);
      const { route } = rule;
      return { rule: route.name, index, targets: route.targets, ...(route.redirect ? { redirect: route.redirect } : {}), why };
    }
    why.push(`#${index + 1} ${rule.route.name}: no match: ${failed.map((c) => `wants ${c.text}, got ${c.saw(request)}`).join('; ')}`);
  }
  why.push(`no rule matches: the request goes to every instance of ${destination}`);
  return { rule: undefined, index: -1, targets: whole, why };
}
