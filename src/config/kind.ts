// What every config kind shares: value validators with the message an
// operator reads, field errors with their paths, hints for keys that look
// like known ones, key=value setters converted by the schema's own types, and
// the key listing `meshctl config set --help` prints. Each helper walks the
// zod object schema of one kind; settingsFor binds them to that schema.

import { z } from 'zod';
import { MeshError } from '../lib/errors.ts';

// ---- Values, each with the message an operator reads when it is wrong.

export function shown(input: unknown): string {
  if (input === undefined) return 'nothing';
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

export const expecting = (what: string) => ({ error: (issue: { input?: unknown }) => `expected ${what}, got ${shown(issue.input)}` });

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, expecting(`one of ${values.join(', ')}`));

// ---- Validation results.

export interface FieldError {
  /** Dotted, with [i] for list items: "retries.retry_on[1]"; "(root)" for the whole entry. */
  readonly path: string;
  readonly message: string;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly FieldError[] };

export const pathText = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '') || '(root)';

/** "path: message; path: message", as the CLI and the API print them. */
export const describeFieldErrors = (errors: readonly FieldError[]): string => errors.map((e) => `${e.path}: ${e.message}`).join('; ');

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export interface SettingKey {
  readonly path: string;
  readonly defaultValue: unknown;
  /** The values an enum (or a list of one) takes. */
  readonly values?: readonly string[];
}

// ---- Schema walking.

export function unwrap(schema: z.ZodType): z.ZodType {
  let node = schema;
  while (node instanceof z.ZodOptional) node = node.unwrap() as z.ZodType;
  return node;
}

function allPaths(shape: Record<string, z.ZodType>, prefix: readonly string[] = []): string[][] {
  return Object.entries(shape).flatMap(([key, schema]) => {
    const inner = unwrap(schema);
    const path = [...prefix, key];
    return inner instanceof z.ZodObject ? [path, ...allPaths(inner.shape as Record<string, z.ZodType>, path)] : [path];
  });
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length] ?? Infinity;
}

/** Keys of a whole entry (as `get --json` prints it), which are not settings. */
const ENVELOPE = new Set(['Kind', 'Name', 'Config', 'CreateIndex', 'ModifyIndex']);

const normal = (key: string) => key.toLowerCase().replace(/[-_\s]/g, '');

/** The text of a setting as the value the schema expects; what cannot convert stays text for the schema to refuse. */
function convert(schema: z.ZodType, text: string): unknown {
  if (schema instanceof z.ZodNumber) return /^[-+]?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : text;
  if (schema instanceof z.ZodBoolean) return text === 'true' ? true : text === 'false' ? false : text;
  if (schema instanceof z.ZodArray) {
    const item = unwrap(schema.element as z.ZodType);
    return text
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map((part) => convert(item, part));
  }
  return text;
}

/** Sets (or, with undefined, removes) a value at a path, dropping groups left empty. */
function setPath(target: Record<string, unknown>, parts: readonly string[], value: unknown): void {
  const [head, ...rest] = parts as [string, ...string[]];
  if (rest.length === 0) {
    if (value === undefined) delete target[head];
    else target[head] = value;
    return;
  }
  const child = target[head];
  const inner = child !== null && typeof child === 'object' && !Array.isArray(child) ? (child as Record<string, unknown>) : {};
  setPath(inner, rest, value);
  if (Object.keys(inner).length === 0) delete target[head];
  else target[head] = inner;
}

/**
 * The helpers bound to one kind's schema. The schema comes through a function
 * because group() is used while that schema is being built.
 * renamed: renamed and commonly mistyped keys, by full path (or bare key, anywhere) → the full path to use.
 */
export function settingsFor(schemaOf: () => z.ZodType, renamed: Readonly<Record<string, string>> = {}) {
  const root = () => unwrap(schemaOf()) as z.ZodObject;

  function shapeAt(path: readonly string[]): Record<string, z.ZodType> | undefined {
    let node: z.ZodType | undefined = schemaOf();
    for (const part of path) {
      const here: z.ZodType | undefined = node === undefined ? undefined : unwrap(node);
      node = here instanceof z.ZodObject && Object.hasOwn(here.shape, part) ? (here.shape as Record<string, z.ZodType>)[part] : undefined;
    }
    const here = node === undefined ? undefined : unwrap(node);
    return here instanceof z.ZodObject ? (here.shape as Record<string, z.ZodType>) : undefined;
  }

  /** ", did you mean X?" for an unknown key under parent, or "" when nothing is close. */
  function suggestion(parent: readonly string[], key: string): string {
    if (parent.length === 0 && ENVELOPE.has(key)) return ', give only the settings: the kind and the name come from the command or the URL';
    const full = [...parent, key].join('.');
    const siblings = Object.keys(shapeAt(parent) ?? {});
    const prefixed = (sibling: string) => [...parent, sibling].join('.');
    const found =
      renamed[full] ??
      renamed[key] ??
      siblings.map(prefixed).find((p) => normal(p.split('.').pop() ?? '') === normal(key)) ??
      allPaths(root().shape as Record<string, z.ZodType>)
        .filter((p) => normal(p[p.length - 1] ?? '') === normal(key))
        .map((p) => p.join('.'))
        .find((_, __, all) => all.length === 1) ??
      (key.length > 3 ? siblings.filter((s) => editDistance(normal(s), normal(key)) <= 2).map(prefixed)[0] : undefined);
    return found ? `, did you mean ${found}?` : '';
  }

  /** A group of settings: unknown keys refused, each with a hint when it looks like a known one. */
  function group<S extends z.core.$ZodLooseShape>(path: readonly string[], shape: S) {
    return z.strictObject(shape, {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => `unknown key "${key}"${suggestion(path, key)}`).join('; ')
          : `expected a group of settings (${Object.keys(shape).join(', ')}), got ${shown(issue.input)}`,
    });
  }

  /** Validates a stored form; every problem at once, an unknown key each on its own. */
  function check<T>(input: unknown): Checked<T> {
    const parsed = schemaOf().safeParse(input);
    if (parsed.success) return { ok: true, value: parsed.data as T };
    const errors = parsed.error.issues.flatMap((issue): FieldError[] => {
      if (issue.code !== 'unrecognized_keys') return [{ path: pathText(issue.path), message: issue.message }];
      const parent = issue.path.map(String);
      return issue.keys.map((key) => ({ path: pathText([...issue.path, key]), message: `unknown key${suggestion(parent, key)}` }));
    });
    return { ok: false, errors };
  }

  /**
   * Applies key=value settings (dotted paths; a,b for lists; an empty value
   * removes the setting, back to its default) onto a stored form. Unknown paths
   * are refused, all at once, with hints. The result still needs check: a
   * setter converts types, it does not judge values.
   */
  function applySetters(current: object, assignments: readonly string[]): Record<string, unknown> {
    const out = structuredClone(current) as Record<string, unknown>;
    const problems: string[] = [];
    for (const assignment of assignments) {
      const eq = assignment.indexOf('=');
      if (eq <= 0) {
        problems.push(`"${assignment}" is not key=value`);
        continue;
      }
      const parts = assignment.slice(0, eq).trim().split('.');
      const text = assignment.slice(eq + 1).trim();
      let schema: z.ZodType = schemaOf();
      let bad: string | undefined;
      for (const [i, part] of parts.entries()) {
        const here = unwrap(schema);
        const parent = parts.slice(0, i);
        if (!(here instanceof z.ZodObject)) {
          bad = `${parent.join('.')} is a single setting, it has no "${part}"`;
          break;
        }
        if (!Object.hasOwn(here.shape, part)) {
          bad = `${parts.slice(0, i + 1).join('.')}: unknown key${suggestion(parent, part)}`;
          break;
        }
        schema = (here.shape as Record<string, z.ZodType>)[part] as z.ZodType;
      }
      const leaf = unwrap(schema);
      if (!bad && leaf instanceof z.ZodObject) {
        bad = `${parts.join('.')} is a group, set one of ${Object.keys(leaf.shape).map((k) => `${parts.join('.')}.${k}`).join(', ')}`;
      }
      if (bad) {
        problems.push(bad);
        continue;
      }
      setPath(out, parts, text === '' ? undefined : convert(leaf, text));
    }
    if (problems.length > 0) throw new MeshError('MESH_E_USAGE', `invalid settings: ${problems.join('; ')}`, { hint: 'see meshctl config set --help for the keys' });
    return out;
  }

  /** Every leaf key with its default (taken from defaults, the stored form with every default filled in). */
  function describeKeys(defaults: object): SettingKey[] {
    return allPaths(root().shape as Record<string, z.ZodType>)
      .map((path) => {
        let schema: z.ZodType = schemaOf();
        let value: unknown = defaults;
        for (const part of path) {
          schema = (unwrap(schema) as z.ZodObject).shape[part] as z.ZodType;
          value = (value as Record<string, unknown> | undefined)?.[part];
        }
        const leaf = unwrap(schema);
        const item = leaf instanceof z.ZodArray ? unwrap(leaf.element as z.ZodType) : leaf;
        return { leaf, key: { path: path.join('.'), defaultValue: value, ...(item instanceof z.ZodEnum ? { values: item.options.map(String) } : {}) } };
      })
      .filter(({ leaf }) => !(leaf instanceof z.ZodObject))
      .map(({ key }) => key);
  }

  return { group, check, applySetters, describeKeys, suggestion };
}
