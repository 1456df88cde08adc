// A small method+path router. Patterns are '/'-separated; ':name' takes one
// segment, '*name' takes the rest of the path (KV keys hold slashes).
// Parameters are percent-decoded once, here, and nowhere else.

import { MeshError, badRequest } from '../../lib/errors.ts';

export type Params = Record<string, string>;

interface Route<H> {
  readonly methods: readonly string[];
  readonly segments: readonly string[];
  readonly handler: H;
}

export type RouteMatch<H> = { handler: H; params: Params } | { allowed: readonly string[] } | undefined;

export class Router<H> {
  private readonly routes: Route<H>[] = [];

  add(methods: string | readonly string[], pattern: string, handler: H): this {
    this.routes.push({
      methods: typeof methods === 'string' ? [methods] : methods,
      segments: pattern.split('/').slice(1),
      handler,
    });
    return this;
  }

  /** The handler for method+path; {allowed} when the path exists for other methods only. */
  match(method: string, path: string): RouteMatch<H> {
    const parts = path.split('/').slice(1);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.methods.includes(method)) return { handler: route.handler, params };
      allowed.push(...route.methods);
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Params | undefined {
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i] as string;
    if (segment.startsWith('*')) {
      params[segment.slice(1)] = decode(parts.slice(i).join('/'));
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (segment.startsWith(':')) {
      if (part === '') return undefined;
      params[segment.slice(1)] = decode(part);
    } else if (segment !== part) {
      return undefined;
    }
  }
  return parts.length === pattern.length ? params : undefined;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badRequest(`Invalid URL path escape in "${text}"`);
  }
}

export function methodNotAllowed(method: string, allowed: readonly string[]): MeshError {
  return new MeshError('MESH_E_METHOD_NOT_ALLOWED', `method ${method} not allowed (use ${[...new Set(allowed)].join(', ')})`);
}
