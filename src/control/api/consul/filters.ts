// Query filters shared by catalog and health reads.

import { badRequest } from '../../../lib/errors.ts';
import type { NodeRecord } from '../../catalog/types.ts';

/** ?node-meta=k:v (repeatable): every pair must match. */
export function nodeMetaFilter(query: URLSearchParams): (node: NodeRecord) => boolean {
  const pairs = query.getAll('node-meta').map((item) => {
    const cut = item.indexOf(':');
    if (cut <= 0) throw badRequest(`Invalid node-meta "${item}": use key:value`);
    return [item.slice(0, cut), item.slice(cut + 1)] as const;
  });
  return (node) => pairs.every(([key, value]) => node.Meta[key] === value);
}

/** ?tag=t (repeatable): the service must carry every tag. */
export function tagFilter(query: URLSearchParams): (tags: readonly string[]) => boolean {
  const wanted = query.getAll('tag');
  return (tags) => wanted.every((tag) => tags.includes(tag));
}

/** Consul's boolean query flags: present and empty means true, else Go's ParseBool. */
export function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  if (value === null) return false;
  if (value === '') return true;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw badRequest(`Invalid value for ?${name}: "${value}" (use true or false)`);
}

/** bexpr filters are not implemented; refusing beats silently returning everything. */
export function refuseFilter(query: URLSearchParams): void {
  if (query.has('filter')) throw badRequest('The ?filter= expression language is not supported by meshctl; use ?tag= and ?node-meta=');
}
