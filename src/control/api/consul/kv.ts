// /v1/kv/*: Consul's key-value store. Values travel base64 in JSON (null when
// empty), raw with ?raw; PUT and DELETE answer true or false; ?cas=0 creates
// only when absent, ?cas=N writes only when ModifyIndex is N. Every key is its
// own topic, so a watch on a key or a prefix wakes only for changes there.

import { badRequest } from '../../../lib/errors.ts';
import type { StoredEntry } from '../../store/store.ts';
import { blockingRead, readableBy } from '../blocking.ts';
import type { Handler } from '../context.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';
import { flag } from './filters.ts';

/** Consul's kv_max_value_size default. */
export const KV_MAX_VALUE_BYTES = 512 * 1024;
const KV = 'kv/';

interface KvRecord {
  Key: string;
  Flags: number;
  /** base64, or null for an empty value. */
  Value: string | null;
}

const kvOut = (entry: StoredEntry<KvRecord>) => ({
  LockIndex: 0,
  Key: entry.value.Key,
  Flags: entry.value.Flags,
  Value: entry.value.Value,
  CreateIndex: entry.createRevision,
  ModifyIndex: entry.modRevision,
});

function uintParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw badRequest(`Invalid ${name}: "${text}" is not an unsigned integer`);
  return Number(text);
}

export function addKvRoutes(router: Router<Handler>, deps: ApiDeps): void {
  const { store } = deps;

  router.add(['GET', 'HEAD'], '/v1/kv/*key', (ctx) => {
    const key = ctx.params.key as string;
    const keysOnly = flag(ctx.query, 'keys');
    const recurse = flag(ctx.query, 'recurse') || keysOnly;
    const spec = recurse ? { prefixes: [KV + key] } : { exact: [KV + key] };
    return blockingRead(ctx, store, spec, deps.random, () => {
      ctx.require({ resource: 'key', access: 'read', name: key });
      if (keysOnly) {
        const separator = ctx.query.get('separator') ?? '';
        const keys = new Set<string>();
        for (const entry of store.list<KvRecord>(KV + key)) {
          const full = entry.value.Key;
          const cut = separator ? full.indexOf(separator, key.length) : -1;
          keys.add(cut >= 0 ? full.slice(0, cut + separator.length) : full);
        }
        if (keys.size === 0) return { status: 404 };
        return { json: [...keys].sort() };
      }
      const entries = recurse ? store.list<KvRecord>(KV + key) : [store.get<KvRecord>(KV + key)].filter((e) => e !== undefined);
      const { visible, headers } = readableBy(ctx, entries, (e) => ({ resource: 'key', access: 'read', name: e.value.Key }));
      if (visible.length === 0) return { status: 404, headers };
      if (flag(ctx.query, 'raw') && !recurse) {
        const value = visible[0]!.value.Value;
        return { raw: value === null ? Buffer.alloc(0) : Buffer.from(value, 'base64'), contentType: 'text/plain; charset=utf-8' };
      }
      return { json: visible.map(kvOut), headers };
    });
  });

  router.add('PUT', '/v1/kv/*key', async (ctx) => {
    const key = ctx.params.key as string;
    if (key === '') throw badRequest('Missing key name');
    if (ctx.query.has('acquire') || ctx.query.has('release')) {
      throw badRequest('Sessions (?acquire, ?release) are not supported by meshctl');
    }
    ctx.require({ resource: 'key', access: 'write', name: key });
    const cas = uintParam(ctx.query, 'cas');
    const flags = uintParam(ctx.query, 'flags') ?? 0;
    const body = await ctx.body(KV_MAX_VALUE_BYTES);
    const record: KvRecord = { Key: key, Flags: flags, Value: body.length === 0 ? null : body.toString('base64') };
    const { result } = await store.transact((txn) => {
      const existing = txn.get<KvRecord>(KV + key);
      if (cas !== undefined && (existing?.modRevision ?? 0) !== cas) return false;
      txn.put(KV + key, record);
      return true;
    });
    return { json: result };
  });

  router.add('DELETE', '/v1/kv/*key', async (ctx) => {
    const key = ctx.params.key as string;
    const recurse = flag(ctx.query, 'recurse');
    const cas = uintParam(ctx.query, 'cas');
    if (recurse && cas !== undefined) throw badRequest('Conflicting flags: cas and recurse cannot be used together');
    if (!recurse && key === '') throw badRequest('Missing key name');
    ctx.require({ resource: 'key', access: 'write', name: key });
    const { result } = await store.transact((txn) => {
      if (recurse) {
        for (const entry of txn.list<KvRecord>(KV + key)) txn.delete(entry.key);
        return true;
      }
      const existing = txn.get<KvRecord>(KV + key);
      if (cas !== undefined) {
        // Consul: a cas of 0 deletes nothing.
        if (cas === 0 || !existing || existing.modRevision !== cas) return false;
      }
      if (existing) txn.delete(existing.key);
      return true;
    });
    return { json: result };
  });
}

