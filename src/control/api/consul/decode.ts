// Decodes Consul request bodies. Real clients spell keys three ways (Go's
// PascalCase, snake_case from HCL habits, python-consul's lowercase), so keys
// match case- and underscore-insensitively, as node-consul's own normalizeKeys
// does. That is why this is not a zod schema: zod matches keys exactly. Only
// struct fields are matched this way; the keys of user maps (Meta, NodeMeta,
// TaggedAddresses, Header) are data and are kept as sent. Unknown struct
// fields are ignored, as Go's encoding/json ignores them; a known field with
// the wrong type is a 400 that names the field.

import { formatGoDuration, parseGoDuration } from '../../../lib/duration.ts';
import { badRequest } from '../../../lib/errors.ts';

export type FieldType =
  | 'string'
  | 'int'
  | 'bool'
  | 'duration'
  | 'stringList'
  | 'stringMap'
  | 'stringListMap'
  | 'any'
  | { struct: Spec }
  | { list: Spec }
  | { map: Spec };

export type Spec = Readonly<Record<string, FieldType>>;
export type Decoded = Record<string, unknown>;

export const normalizeKey = (key: string): string => key.replace(/_/g, '').toLowerCase();

export function decodeStruct(spec: Spec, input: unknown, path: string): Decoded {
  if (input === null || input === undefined) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw badRequest(`Request decode failed: ${path || 'body'}: expected an object`);
  }
  const byNormal = new Map<string, string>();
  for (const name of Object.keys(spec)) byNormal.set(normalizeKey(name), name);
  const out: Decoded = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    const name = byNormal.get(normalizeKey(key));
    if (name === undefined || value === null || value === undefined) continue;
    const fieldPath = path ? `${path}.${name}` : name;
    out[name] = decodeField(spec[name] as FieldType, value, fieldPath);
  }
  return out;
}

function decodeField(type: FieldType, value: unknown, path: string): unknown {
  const fail = (what: string): never => {
    throw badRequest(`Request decode failed: ${path}: expected ${what}, got ${describe(value)}`);
  };
  if (typeof type === 'object') {
    if ('struct' in type) return decodeStruct(type.struct, value, path);
    if ('list' in type) {
      if (!Array.isArray(value)) fail('a list');
      return (value as unknown[]).map((item, i) => decodeStruct(type.list, item, `${path}[${i}]`));
    }
    if (typeof value !== 'object' || Array.isArray(value)) fail('an object');
    const map: Record<string, Decoded> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      map[key] = decodeStruct(type.map, item, `${path}.${key}`);
    }
    return map;
  }
  switch (type) {
    case 'string':
      if (typeof value !== 'string') fail('a string');
      if ((value as string).includes('\0')) fail('a string without NUL');
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail('an integer');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') fail('true or false');
      return value;
    case 'duration':
      return decodeDuration(value, path);
    case 'stringList':
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) fail('a list of strings');
      return value;
    case 'stringMap':
      if (typeof value !== 'object' || Array.isArray(value)) fail('an object of strings');
      for (const item of Object.values(value as object)) if (typeof item !== 'string') fail('an object of strings');
      return { ...(value as Record<string, string>) };
    case 'stringListMap': {
      if (typeof value !== 'object' || Array.isArray(value)) fail('an object of string lists');
      const map: Record<string, string[]> = {};
      for (const [key, item] of Object.entries(value as object)) {
        if (!Array.isArray(item) || !item.every((v) => typeof v === 'string')) fail('an object of string lists');
        map[key] = item as string[];
      }
      return map;
    }
    case 'any':
      return value;
  }
}

/** Go encodes time.Duration as nanoseconds; HCL and humans send "10s". Both come out as "10s". */
function decodeDuration(value: unknown, path: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return formatGoDuration(value / 1e6);
  if (typeof value === 'string') {
    const ms = parseGoDuration(value);
    if (ms !== undefined && ms >= 0) return formatGoDuration(ms);
  }
  throw badRequest(`Request decode failed: ${path}: expected a duration such as "10s" or "1m30s", got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Parses a JSON body, turning syntax errors into a 400 that says where. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`Request decode failed: ${(error as Error).message}`);
  }
}
