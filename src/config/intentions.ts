// service-intentions: who may call whom, Consul's config entry of that kind.
// One entry per destination (Name: a service, or * for every service), with
// the Sources that may or may not call it:
//
//   { Sources: [{ Name: 'web' | '*', Action?: 'allow' | 'deny',
//                 Permissions?: [{ Action, HTTP: { PathExact | PathPrefix | PathRegex,
//                                                  Methods?, Header? } }],
//                 Description?, CreatedAt? }] }
//
// Where Consul takes Action xor Permissions, a source here may have both: its
// Action is the L4 fallback, what the source gets for a request none of its
// permissions match (and for a TCP connection, where permissions match
// nothing). So "deny web → api on /admin, allow the rest" is one source.
// A source needs at least one of the two. Source names are unique per entry.
//
// Checks, so that a rule that cannot match is refused rather than stored:
// paths start with '/' and are already normalized (see
// lib/http/path-normalize.ts: a rule on /a/../admin would never match);
// regexes compile under RE2 (re2js: linear time, no catastrophic
// backtracking; they match the whole path or header value); at most one of
// PathExact/PathPrefix/PathRegex; at least one criterion per HTTP match;
// method names uppercase; one of Exact/Prefix/Suffix/Regex/Present per header.
//
// The decision over these entries is intention-table.ts.

import { z } from 'zod';
import { RE2JS } from 're2js';
import { MeshError } from '../lib/errors.ts';
import { normalizeRequestTarget } from '../lib/http/path-normalize.ts';
import { SERVICE_NAME } from './service-defaults.ts';
import { expecting, oneOf, settingsFor, type Checked, type SettingKey } from './kind.ts';

export const ACTIONS = ['allow', 'deny'] as const;
export type Action = (typeof ACTIONS)[number];
export const WILDCARD = '*';

/** Consul's precedence (without namespaces): exact → exact 9, * → exact 8, exact → * 6, * → * 5. */
export function precedenceOf(source: string, destination: string): number {
  if (destination !== WILDCARD) return source !== WILDCARD ? 9 : 8;
  return source !== WILDCARD ? 6 : 5;
}

// ---- Regexes: RE2 semantics, compiled once per pattern.

const regexes = new Map<string, RE2JS>();

/** The compiled pattern (cached); throws re2js's syntax error when it does not compile. */
export function compileRegex(pattern: string): RE2JS {
  let re = regexes.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (regexes.size >= 4096) regexes.clear(); // a bound, not an LRU: patterns come from a few config entries
    regexes.set(pattern, re);
  }
  return re;
}

function regexProblem(pattern: string): string | undefined {
  try {
    compileRegex(pattern);
    return undefined;
  } catch (error) {
    return `not a valid RE2 regex ${JSON.stringify(pattern)}: ${(error as Error).message}`;
  }
}

// ---- The schema.

const kit = settingsFor(() => intentionsSchema, {
  Path: 'PathPrefix',
  Prefix: 'PathPrefix',
  Method: 'Methods',
  Headers: 'Header',
  Permission: 'Permissions',
  Source: 'Sources',
  Destination: 'the entry name (the destination)',
});

const serviceOrWildcard = z
  .string(expecting('a service name or *'))
  .refine((v) => v === WILDCARD || SERVICE_NAME.test(v), expecting('a service name (letters, digits and dashes) or *'));

export const httpPath = z.string(expecting('a path')).superRefine((value, ctx) => {
  if (!value.startsWith('/')) return void ctx.addIssue({ code: 'custom', message: `must start with "/", got ${JSON.stringify(value)}` });
  const normalized = normalizeRequestTarget(value);
  if (!normalized.ok) return void ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is refused: ${normalized.reason}` });
  if (normalized.forward !== value) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a normalized path and would never match; give ${JSON.stringify(normalized.forward)}` });
  else if (normalized.query !== '' || value.includes('?')) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} holds a query; rules and rewrites are about paths only` });
});

export const regex = z.string(expecting('a regex')).superRefine((value, ctx) => {
  const problem = regexProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const method = z.string(expecting('an HTTP method')).regex(/^[A-Z][A-Z0-9_-]*$/, expecting('an HTTP method in capitals, such as GET'));

const headerMatch = kit
  .group(['Header'], {
    Name: z.string(expecting('a header name')).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, expecting('a header name')),
    Exact: z.string(expecting('a value')).optional(),
    Prefix: z.string(expecting('a value')).optional(),
    Suffix: z.string(expecting('a value')).optional(),
    Regex: regex.optional(),
    Present: z.literal(true, expecting('true (for absence, Present: true with Invert: true)')).optional(),
    Invert: z.boolean(expecting('true or false')).optional(),
  })
  .superRefine((h, ctx) => {
    const given = (['Exact', 'Prefix', 'Suffix', 'Regex', 'Present'] as const).filter((k) => h[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `give exactly one of Exact, Prefix, Suffix, Regex, Present for header ${h.Name}${given.length ? `, got ${given.join(', ')}` : ''}` });
  });

const httpMatch = kit
  .group(['HTTP'], {
    PathExact: httpPath.optional(),
    PathPrefix: httpPath.optional(),
    PathRegex: regex.optional(),
    Methods: z.array(method, expecting('a list of HTTP methods')).min(1, expecting('at least one method')).optional(),
    Header: z.array(headerMatch, expecting('a list of header matches')).min(1, expecting('at least one header match')).optional(),
  })
  .superRefine((h, ctx) => {
    const paths = (['PathExact', 'PathPrefix', 'PathRegex'] as const).filter((k) => h[k] !== undefined);
    if (paths.length > 1) ctx.addIssue({ code: 'custom', message: `give at most one of PathExact, PathPrefix, PathRegex, got ${paths.join(', ')}` });
    if (paths.length === 0 && !h.Methods && !h.Header) ctx.addIssue({ code: 'custom', message: 'give at least one of PathExact, PathPrefix, PathRegex, Methods, Header (for every request, use the source\'s Action)' });
  });

const permission = kit.group(['Permissions'], { Action: oneOf(ACTIONS), HTTP: httpMatch });

const source = kit
  .group(['Sources'], {
    Name: serviceOrWildcard,
    Action: oneOf(ACTIONS).optional(),
    Permissions: z.array(permission, expecting('a list of permissions')).min(1, expecting('at least one permission (or leave Permissions out)')).optional(),
    Description: z.string(expecting('text')).optional(),
    CreatedAt: z.string(expecting('a timestamp')).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.Action === undefined && s.Permissions === undefined) ctx.addIssue({ code: 'custom', message: `source ${s.Name} needs an Action, Permissions, or both` });
  });

export const intentionsSchema = kit
  .group([], { Sources: z.array(source, expecting('a list of sources')) })
  .superRefine((entry, ctx) => {
    const seen = new Set<string>();
    for (const [i, s] of entry.Sources.entries()) {
      if (seen.has(s.Name)) ctx.addIssue({ code: 'custom', path: ['Sources', i, 'Name'], message: `source ${s.Name} appears twice; give each source once, with all its permissions` });
      seen.add(s.Name);
    }
  });

export type StoredIntentions = z.infer<typeof intentionsSchema>;
export type StoredSource = StoredIntentions['Sources'][number];
export type StoredPermission = NonNullable<StoredSource['Permissions']>[number];
export type HttpMatch = StoredPermission['HTTP'];
export type HeaderMatch = NonNullable<HttpMatch['Header']>[number];

export const checkIntentions = (input: unknown): Checked<StoredIntentions> => kit.check<StoredIntentions>(input);

/** An HTTP match as one line: "path-prefix /admin, methods GET,POST, header x-env=prod". */
export function describeHttpMatch(http: HttpMatch): string {
  const parts: string[] = [];
  if (http.PathExact !== undefined) parts.push(`path-exact ${http.PathExact}`);
  if (http.PathPrefix !== undefined) parts.push(`path-prefix ${http.PathPrefix}`);
  if (http.PathRegex !== undefined) parts.push(`path-regex ${http.PathRegex}`);
  if (http.Methods) parts.push(`methods ${http.Methods.join(',')}`);
  for (const h of http.Header ?? []) {
    const not = h.Invert ? 'not ' : '';
    if (h.Exact !== undefined) parts.push(`header ${h.Name}${h.Invert ? '!=' : '='}${h.Exact}`);
    else if (h.Prefix !== undefined) parts.push(`header ${h.Name} ${not}prefix ${h.Prefix}`);
    else if (h.Suffix !== undefined) parts.push(`header ${h.Name} ${not}suffix ${h.Suffix}`);
    else if (h.Regex !== undefined) parts.push(`header ${h.Name} ${not}regex ${h.Regex}`);
    else parts.push(`header ${h.Name} ${h.Invert ? 'absent' : 'present'}`);
  }
  return parts.join(', ');
}

/** The intention's name as operators read it: "web → api". */
export const intentionName = (source: string, destination: string) => `${source} → ${destination}`;

/** The service-intentions kind as the CLI's and the API's kind tables take it. */
export const intentionsKind = Object.freeze({
  kind: 'service-intentions',
  nameRule: new RegExp(`^(?:\\*|${SERVICE_NAME.source.slice(1, -1)})$`),
  nameHelp: 'the destination: a service name (letters, digits and dashes) or *',
  check: checkIntentions,
  applySetters: (): Record<string, unknown> => {
    throw new MeshError('MESH_E_USAGE', 'service-intentions takes no key=value settings', { hint: 'use meshctl intention allow|deny, or meshctl config set service-intentions NAME -f FILE' });
  },
  withDefaults: (stored: object | undefined): object => stored ?? { Sources: [] },
  keys: Object.freeze([]) as readonly SettingKey[],
});
