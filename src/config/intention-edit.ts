// Edits of one destination's service-intentions entry, as `meshctl intention`
// and the Consul-compatible /v1/connect/intentions/exact make them. Pure: the
// caller reads the entry, edits, checks and writes it back with
// check-and-set, so concurrent edits of one destination never lose one.

import type { Action, HttpMatch, StoredIntentions, StoredSource } from './intentions.ts';

export interface IntentionChange {
  readonly source: string;
  readonly action: Action;
  /** With a match: a permission. Without: the source's Action (its L4 fallback). */
  readonly http?: HttpMatch;
  readonly description?: string;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, canonical(v)]));
  return value;
}

/** The same match: equal criteria, methods in any order. */
export function sameHttpMatch(a: HttpMatch, b: HttpMatch): boolean {
  const key = (m: HttpMatch) => JSON.stringify(canonical({ ...m, Methods: m.Methods ? [...new Set(m.Methods)].sort() : undefined }));
  return key(a) === key(b);
}

const sourcesOf = (current: StoredIntentions | undefined): StoredSource[] => structuredClone(current?.Sources ?? []);

/**
 * allow/deny: without a match, sets the source's Action; with one, sets the
 * action of the permission with an identical match, else appends one. A new
 * source gets CreatedAt = now.
 */
export function withIntention(current: StoredIntentions | undefined, change: IntentionChange, now: string): StoredIntentions {
  const sources = sourcesOf(current);
  let source = sources.find((s) => s.Name === change.source);
  if (!source) {
    source = { Name: change.source, CreatedAt: now };
    sources.push(source);
  }
  if (change.description !== undefined) source.Description = change.description;
  if (!change.http) {
    source.Action = change.action;
  } else {
    const permissions = source.Permissions ?? [];
    const same = permissions.find((p) => sameHttpMatch(p.HTTP, change.http as HttpMatch));
    if (same) same.Action = change.action;
    else permissions.push({ Action: change.action, HTTP: structuredClone(change.http) });
    source.Permissions = permissions;
  }
  return { Sources: sources };
}

/**
 * delete: without a match, removes the source; with one, removes that
 * permission (and the source, when nothing is left of it). removed: whether
 * anything was there to remove.
 */
export function withoutIntention(current: StoredIntentions | undefined, sourceName: string, http?: HttpMatch): { config: StoredIntentions; removed: boolean } {
  const sources = sourcesOf(current);
  const index = sources.findIndex((s) => s.Name === sourceName);
  const source = sources[index];
  if (!source) return { config: { Sources: sources }, removed: false };
  if (!http) {
    sources.splice(index, 1);
    return { config: { Sources: sources }, removed: true };
  }
  const permissions = source.Permissions ?? [];
  const kept = permissions.filter((p) => !sameHttpMatch(p.HTTP, http));
  if (kept.length === permissions.length) return { config: { Sources: sources }, removed: false };
  if (kept.length > 0) source.Permissions = kept;
  else delete source.Permissions;
  if (source.Action === undefined && source.Permissions === undefined) sources.splice(index, 1);
  return { config: { Sources: sources }, removed: true };
}

/** Consul's exact PUT: the source's Action and Permissions replaced by the given ones; CreatedAt kept. */
export function withSourceReplaced(current: StoredIntentions | undefined, replacement: StoredSource, now: string): StoredIntentions {
  const sources = sourcesOf(current);
  const index = sources.findIndex((s) => s.Name === replacement.Name);
  const createdAt = sources[index]?.CreatedAt ?? replacement.CreatedAt ?? now;
  const next: StoredSource = { ...structuredClone(replacement), CreatedAt: createdAt };
  if (index === -1) sources.push(next);
  else sources[index] = next;
  return { Sources: sources };
}
