// Edits of one destination's route set and one service's subsets, as
// `meshctl route`, `meshctl split` and `meshctl subset` make them. Pure: the
// caller reads the entry, edits, checks and writes it back with
// check-and-set, so concurrent edits of one destination never lose one.
// The server numbers versions: an edited set goes back without its Version.

import type { StoredResolver, StoredRoute, StoredRouter, StoredSplitTarget, StoredSubset } from './routes.ts';

/** The name `meshctl split` gives its catch-all route. */
export const SPLIT_ROUTE = 'split';

const routesOf = (current: StoredRouter | undefined): StoredRoute[] => structuredClone(current?.Routes ?? []);

/**
 * Adds route, or replaces the route of that name. position (from 0, clamped):
 * where it goes; without it a new route goes last (before a catch-all `split`
 * route, which stays the last word) and a replaced one keeps its place.
 */
export function withRoute(current: StoredRouter | undefined, route: StoredRoute, position?: number): StoredRouter {
  const routes = routesOf(current);
  const at = routes.findIndex((r) => r.Name === route.Name);
  if (at >= 0 && position === undefined) {
    routes[at] = route;
    return { Routes: routes };
  }
  if (at >= 0) routes.splice(at, 1);
  const splitAt = routes.findIndex((r) => r.Name === SPLIT_ROUTE && r.Match === undefined);
  const end = splitAt >= 0 && route.Name !== SPLIT_ROUTE ? splitAt : routes.length;
  routes.splice(position === undefined ? end : Math.max(0, Math.min(position, routes.length)), 0, route);
  return { Routes: routes };
}

/** Without the named route, or (no name) without any; removed: whether anything went. */
export function withoutRoute(current: StoredRouter | undefined, name?: string): { config: StoredRouter; removed: boolean } {
  const routes = routesOf(current);
  const kept = name === undefined ? [] : routes.filter((r) => r.Name !== name);
  return { config: { Routes: kept }, removed: kept.length !== routes.length };
}

/** The catch-all `split` route over subsets of the destination, set (or replaced) at the end. */
export function withSplit(current: StoredRouter | undefined, split: readonly StoredSplitTarget[]): StoredRouter {
  const routes = routesOf(current).filter((r) => r.Name !== SPLIT_ROUTE);
  return { Routes: [...routes, { Name: SPLIT_ROUTE, Destination: { Split: structuredClone([...split]) } }] };
}

export function withSubset(current: StoredResolver | undefined, name: string, subset: StoredSubset): StoredResolver {
  return { Subsets: { ...structuredClone(current?.Subsets ?? {}), [name]: subset } };
}

export function withoutSubset(current: StoredResolver | undefined, name: string): { config: StoredResolver; removed: boolean } {
  const Subsets = structuredClone(current?.Subsets ?? {});
  const removed = Object.hasOwn(Subsets, name);
  delete Subsets[name];
  return { config: { Subsets }, removed };
}

/**
 * Weights for n targets where some were given: the rest of 100 shared evenly
 * by the others, in whole numbers, the first ones taking the remainder
 * (3 targets: 34, 33, 33). Gives undefined where nothing is left to share.
 */
export function evenWeights(given: readonly (number | undefined)[]): number[] {
  const open = given.filter((w) => w === undefined).length;
  const rest = 100 - given.reduce<number>((sum, w) => sum + (w ?? 0), 0);
  const share = open > 0 ? Math.floor(rest / open) : 0;
  let extra = open > 0 ? rest - share * open : 0;
  return given.map((w) => {
    if (w !== undefined) return w;
    const add = extra > 0 ? 1 : 0;
    extra -= add;
    return share + add;
  });
}
