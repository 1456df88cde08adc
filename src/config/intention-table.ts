// The intention decision: may this source call this destination (and, for an
// HTTP service, make this request)? Pure; compiled once per config snapshot,
// asked per connection or per request.
//
// The rules that can apply to a call source → destination are at most four,
// tried from the highest precedence down (Consul's values):
//   9 source → destination, 8 * → destination, 6 source → *, 5 * → *.
// The first that matches the call decides:
//   - its permissions whose HTTP match matches the request; among those,
//     deny beats allow (their order does not matter);
//   - else its Action, the L4 fallback, which matches every call;
//   - a rule with permissions only, none of which match, does not match: the
//     call falls through to the next precedence (Consul would go straight to
//     the default policy; falling through lets "* → api allow" cover web's
//     requests that web's own /admin deny does not name).
// Called without http (a TCP connection, or a destination that is not
// HTTP), permissions match nothing. When no rule matches, the mesh's
// default_policy decides (deny on a new mesh).
//
// The path given must already be normalized (lib/http/path-normalize.ts);
// header names are asked in lowercase.

import { compileRegex, describeHttpMatch, intentionName, precedenceOf, WILDCARD, type Action, type HeaderMatch, type HttpMatch, type StoredIntentions } from './intentions.ts';

export interface HttpRequestFacts {
  /** Normalized, without the query. */
  readonly path: string;
  readonly method: string;
  /** A header's value by lowercase name; undefined when absent. */
  readonly headers: (name: string) => string | undefined;
}

export interface IntentionRequest {
  readonly source: string;
  readonly destination: string;
  readonly http?: HttpRequestFacts;
}

export interface IntentionDecision {
  readonly action: Action;
  /** "intention web → api (deny, path-prefix /admin)" or "mesh default_policy=deny". */
  readonly decidedBy: string;
  /** 9, 8, 6, 5 for an intention; 0 for the mesh default. */
  readonly precedence: number;
  /** Decided by an L7 permission. */
  readonly l7: boolean;
}

export interface IntentionTable {
  readonly defaultPolicy: Action;
  decide(request: IntentionRequest): IntentionDecision;
  /** Whether any rule that can apply to calls to destination has HTTP permissions (else decide at connect). */
  needsL7(destination: string): boolean;
}

export interface IntentionEntry {
  /** The destination, or *. */
  readonly Name: string;
  readonly Config: StoredIntentions;
}

interface CompiledPermission {
  readonly action: Action;
  readonly matches: (http: HttpRequestFacts) => boolean;
  readonly text: string;
}

interface CompiledRule {
  readonly name: string;
  readonly precedence: number;
  readonly action: Action | undefined;
  readonly permissions: readonly CompiledPermission[];
}

function headerMatcher(h: HeaderMatch): (http: HttpRequestFacts) => boolean {
  const name = h.Name.toLowerCase();
  const invert = h.Invert === true;
  const test: (value: string) => boolean =
    h.Exact !== undefined ? (v) => v === h.Exact
    : h.Prefix !== undefined ? (v) => v.startsWith(h.Prefix as string)
    : h.Suffix !== undefined ? (v) => v.endsWith(h.Suffix as string)
    : h.Regex !== undefined ? ((re) => (v: string) => re.matches(v))(compileRegex(h.Regex))
    : () => true; // Present
  // An absent header fails every value match; inverted, it passes (Envoy's invert_match).
  return (http) => {
    const value = http.headers(name);
    return value === undefined ? invert : test(value) !== invert;
  };
}

function httpMatcher(m: HttpMatch): (http: HttpRequestFacts) => boolean {
  const checks: Array<(http: HttpRequestFacts) => boolean> = [];
  if (m.PathExact !== undefined) checks.push((r) => r.path === m.PathExact);
  if (m.PathPrefix !== undefined) checks.push((r) => r.path.startsWith(m.PathPrefix as string));
  if (m.PathRegex !== undefined) {
    const re = compileRegex(m.PathRegex);
    checks.push((r) => re.matches(r.path));
  }
  if (m.Methods) {
    const methods = new Set(m.Methods);
    checks.push((r) => methods.has(r.method));
  }
  for (const h of m.Header ?? []) checks.push(headerMatcher(h));
  return (r) => checks.every((check) => check(r));
}

export function compileIntentions(entries: readonly IntentionEntry[], meshDefault: Action): IntentionTable {
  // destination → source → rule
  const rules = new Map<string, Map<string, CompiledRule>>();
  for (const entry of entries) {
    const bySource = new Map<string, CompiledRule>();
    for (const s of entry.Config.Sources) {
      bySource.set(s.Name, {
        name: intentionName(s.Name, entry.Name),
        precedence: precedenceOf(s.Name, entry.Name),
        action: s.Action,
        permissions: (s.Permissions ?? []).map((p) => ({ action: p.Action, matches: httpMatcher(p.HTTP), text: describeHttpMatch(p.HTTP) })),
      });
    }
    rules.set(entry.Name, bySource);
  }
  const candidates = (source: string, destination: string): CompiledRule[] => {
    const found = [rules.get(destination)?.get(source), rules.get(destination)?.get(WILDCARD), rules.get(WILDCARD)?.get(source), rules.get(WILDCARD)?.get(WILDCARD)];
    return [...new Set(found.filter((r): r is CompiledRule => r !== undefined))];
  };
  const fallback: IntentionDecision = Object.freeze({ action: meshDefault, decidedBy: `mesh default_policy=${meshDefault}`, precedence: 0, l7: false });

  return Object.freeze({
    defaultPolicy: meshDefault,
    decide({ source, destination, http }: IntentionRequest): IntentionDecision {
      for (const rule of candidates(source, destination)) {
        if (http) {
          const matched = rule.permissions.filter((p) => p.matches(http));
          const decisive = matched.find((p) => p.action === 'deny') ?? matched[0];
          if (decisive) return { action: decisive.action, decidedBy: `intention ${rule.name} (${decisive.action}, ${decisive.text})`, precedence: rule.precedence, l7: true };
        }
        if (rule.action) return { action: rule.action, decidedBy: `intention ${rule.name} (${rule.action})`, precedence: rule.precedence, l7: false };
      }
      return fallback;
    },
    needsL7(destination: string): boolean {
      return [rules.get(destination), rules.get(WILDCARD)].some((bySource) => [...(bySource?.values() ?? [])].some((r) => r.permissions.length > 0));
    },
  });
}
