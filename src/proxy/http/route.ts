// Routes at the caller's outbound stage (HTTP/1.1, HTTP/2 and gRPC): the destination's route
// set (src/config/route-table.ts) is matched on the normalized path, method,
// headers, query and the calling service, first match wins. The matched
// route decides where the request goes (a subset, another service, a
// weighted split) and what happens on the way: header edits, a prefix
// rewrite or a redirect, injected faults, a mirror, and timeout and retry
// overrides. No route, or no match: the whole service, as without routes.

import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Random } from '../../lib/clock.ts';
import { normalizeRequestTarget } from '../../lib/http/path-normalize.ts';
import type { CompiledRoute, RouteTable } from '../../config/route-table.ts';
import { pickTarget } from '../../config/route-table.ts';
import type { ResolvedServiceDefaults } from '../../config/service-defaults.ts';
import type { Cluster, ClusterEndpoint } from '../cluster.ts';
import { HopAgent } from './hop-agent.ts';
import { HEADER, type MeshFailure } from '../mesh-error.ts';

/** What a matched route changes in how the outbound stage forwards a request. */
export interface RouteEffects {
  route: string;
  path: string;
  editHeaders(headers: string[]): string[];
  defaults: ResolvedServiceDefaults;
  /** The route's own timeout, when it sets one (defaults carries it too, for HTTP/1.1). */
  timeoutMs?: number;
  delayMs: number;
  /** Sends a copy elsewhere, never waited for; only for bodies known whole. */
  mirror?: (copy: { method: string; path: string; headers: string[]; body: Buffer | undefined }) => void;
}

export type RouteOutcome =
  | { kind: 'forward'; cluster: Cluster | undefined; service: string; effects?: RouteEffects }
  | { kind: 'respond'; status: number; headers: Record<string, string>; body: string };

export interface RouteDeps {
  routes: RouteTable | undefined;
  caller: string | undefined;
  random: Random;
  /** The cluster of a service, or of one subset of it. */
  clusterFor(service: string, subset?: string): Cluster | undefined;
  agentFor(cluster: Cluster, endpoint: ClusterEndpoint): HopAgent | MeshFailure;
}

/** What routes match on, whatever the protocol carried it: the request target, the method, and a header by lowercase name (repeats joined). */
export interface RoutedRequest {
  url: string;
  method: string;
  header(name: string): string | undefined;
}

/** An HTTP/1.1 request, as routes see it. */
export function routeHttp(req: IncomingMessage, service: string, whole: Cluster | undefined, deps: RouteDeps): RouteOutcome {
  return routeRequest({ url: req.url ?? '/', method: req.method ?? 'GET', header: (name) => joined(req.headers[name]) }, service, whole, deps);
}

const joined = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/**
 * An HTTP/2 stream (or gRPC call), as routes see it: `:path` and `:method`.
 * A stream cannot be replayed or copied as it flows, so a route's retries
 * and mirror do not apply to it (the caller's stage leaves them out).
 */
export function routeH2(headers: IncomingHttpHeaders, service: string, whole: Cluster | undefined, deps: RouteDeps): RouteOutcome {
  return routeRequest({ url: String(headers[':path'] ?? '/'), method: String(headers[':method'] ?? 'GET'), header: (name) => (name.startsWith(':') ? undefined : joined(headers[name])) }, service, whole, deps);
}

export function routeRequest(req: RoutedRequest, service: string, whole: Cluster | undefined, deps: RouteDeps): RouteOutcome {
  if (!deps.routes) return { kind: 'forward', cluster: whole, service };
  const target = normalizeRequestTarget(req.url);
  // A target the inbound stage will refuse is not routed: it goes to the service, which refuses it with the reason.
  if (!target.ok) return { kind: 'forward', cluster: whole, service };
  const query = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(target.query)) query.set(name, [...(query.get(name) ?? []), value]);
  const matched = deps.routes.match(service, { path: target.path, query, method: req.method, header: req.header, source: deps.caller ?? '' });
  if (!matched) return { kind: 'forward', cluster: whole, service };
  const route = matched.route;
  if (route.redirect) {
    const location = (route.redirect.path ?? target.path) + (target.query ? `?${target.query}` : '');
    return { kind: 'respond', status: route.redirect.status, headers: { location, 'x-mesh-route': route.name }, body: '' };
  }
  if (route.fault?.abort && deps.random() * 100 < route.fault.abort.percent) {
    return {
      kind: 'respond',
      status: route.fault.abort.status,
      headers: { 'x-mesh-fault': `abort; route=${route.name}; status=${route.fault.abort.status}`, 'content-type': 'text/plain; charset=utf-8' },
      body: `meshctl: fault injected by route ${route.name} (abort ${route.fault.abort.status} for ${route.fault.abort.percent}% of requests)\n`,
    };
  }
  const chosen = pickTarget(route, deps.random);
  if (!chosen) return { kind: 'forward', cluster: whole, service };
  const cluster = deps.clusterFor(chosen.service, chosen.subset);
  // An unknown service or subset: the outbound stage answers 503 naming it.
  if (!cluster) return { kind: 'forward', cluster: undefined, service: chosen.subset ? `${chosen.service}~${chosen.subset}` : chosen.service };
  const rewritten = rewrite(route, target.path);
  if (rewritten === undefined) {
    return { kind: 'respond', status: 400, headers: { [HEADER]: `bad_request; hop=outbound; service=${service}; policy=route ${route.name}`, 'content-type': 'text/plain; charset=utf-8' }, body: `meshctl: the path leaves the prefix route ${route.name} rewrites it to\n` };
  }
  const effects: RouteEffects = {
    route: route.name,
    path: rewritten + (target.query ? `?${target.query}` : ''),
    editHeaders: (headers) => editHeaders(headers, route.headers),
    defaults: withOverrides(cluster.defaults, route),
    ...(route.timeoutMs !== undefined ? { timeoutMs: route.timeoutMs } : {}),
    delayMs: route.fault?.delay && deps.random() * 100 < route.fault.delay.percent ? route.fault.delay.ms : 0,
  };
  const mirror = route.mirror;
  if (mirror && deps.random() * 100 < mirror.percent) {
    effects.mirror = (copy) => sendMirror(copy, deps.clusterFor(mirror.service, mirror.subset), deps);
  }
  return { kind: 'forward', cluster, service: chosen.service, effects };
}

/** The matched prefix replaced, the segment boundary kept, and the result normalized again: undefined when `..` would climb out of the new prefix. */
function rewrite(route: CompiledRoute, path: string): string | undefined {
  const r = route.prefixRewrite;
  if (!r || !path.startsWith(r.from)) return path;
  const rest = path.slice(r.from.length);
  let joined: string;
  if (r.to.endsWith('/') && rest.startsWith('/')) joined = r.to + rest.slice(1);
  else if (r.from.endsWith('/') && !r.to.endsWith('/') && rest !== '') joined = `${r.to}/${rest}`;
  else joined = r.to + rest;
  const normalized = normalizeRequestTarget(joined.startsWith('/') ? joined : `/${joined}`);
  // `..` after the prefix must not climb out of what it was rewritten to.
  const base = r.to.endsWith('/') ? r.to : `${r.to}/`;
  if (!normalized.ok || (normalized.path !== r.to && !normalized.path.startsWith(base))) return undefined;
  return normalized.path;
}

/** Set replaces every value of a header, add appends one, remove drops it; names compare without case. */
export function editHeaders(headers: string[], edits: CompiledRoute['headers']): string[] {
  const drop = new Set([...edits.remove, ...Object.keys(edits.set)].map((n) => n.toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!drop.has((headers[i] as string).toLowerCase())) out.push(headers[i] as string, headers[i + 1] as string);
  }
  for (const [name, value] of Object.entries(edits.set)) out.push(name, value);
  for (const [name, value] of Object.entries(edits.add)) out.push(name, value);
  return out;
}

function withOverrides(d: ResolvedServiceDefaults, route: CompiledRoute): ResolvedServiceDefaults {
  if (route.timeoutMs === undefined && !route.retries) return d;
  return {
    ...d,
    timeouts: { ...d.timeouts, ...(route.timeoutMs !== undefined ? { requestMs: route.timeoutMs } : {}) },
    retries: {
      ...d.retries,
      ...(route.retries?.numRetries !== undefined ? { numRetries: route.retries.numRetries } : {}),
      ...(route.retries?.perTryTimeoutMs !== undefined ? { perTryTimeoutMs: route.retries.perTryTimeoutMs } : {}),
      ...(route.retries?.retryOn !== undefined ? { retryOn: route.retries.retryOn as ResolvedServiceDefaults['retries']['retryOn'] } : {}),
    },
  };
}

const MIRROR_TIMEOUT_MS = 5_000;

/**
 * Fire and forget: the mirror's answer is read and dropped, its failure
 * ignored; the caller never waits for it. A copy counts against the
 * mirror's max_requests and is dropped when its pool is full, so a slow
 * mirror can neither pile up copies nor take connections real calls need.
 */
function sendMirror(copy: { method: string; path: string; headers: string[]; body: Buffer | undefined }, cluster: Cluster | undefined, deps: RouteDeps): void {
  const endpoint = cluster?.pick(undefined, new Set());
  if (!cluster || !endpoint) return;
  const agent = deps.agentFor(cluster, endpoint);
  if (!(agent instanceof HopAgent) || agent.saturated() || !cluster.limits.tryAcquire('request')) return;
  // Istio's habit: the mirror's Host names it as a shadow (before any port), so its logs can tell the copies apart.
  const headers = copy.headers.map((value, i) => (i % 2 === 1 && (copy.headers[i - 1] as string).toLowerCase() === 'host' ? value.replace(/^(\[[^\]]*\]|[^:]*)/, '$1-shadow') : value));
  const req = request({ agent, method: copy.method, path: copy.path, headers, setHost: false });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    clearTimeout(timer);
    cluster.limits.release('request');
  };
  // From now, not from when a socket is assigned: a copy never waits longer than this in all.
  const timer = setTimeout(() => req.destroy(), MIRROR_TIMEOUT_MS);
  req.on('response', (res) => {
    res.resume();
    res.once('end', release);
  });
  req.on('error', release);
  req.on('close', release);
  req.end(copy.body);
}
