// `meshctl route add`'s flags → one stored route, checked by the route
// schema before anything is sent. A problem is reported against the flag
// and the value the operator typed, not the schema's field path.

import { checkRouter, type StoredRoute } from '../config/routes.ts';
import { evenWeights } from '../config/route-edit.ts';
import { MeshError } from '../lib/errors.ts';

export interface RouteFlags {
  name?: string;
  pathPrefix?: string;
  pathExact?: string;
  pathRegex?: string;
  method?: string[];
  header?: string[];
  query?: string[];
  source?: string;
  to?: string[];
  timeout?: string;
  retries?: string;
  perTryTimeout?: string;
  setHeader?: string[];
  addHeader?: string[];
  removeHeader?: string[];
  prefixRewrite?: string;
  redirect?: string;
  faultDelay?: string;
  faultAbort?: string;
  mirror?: string;
}

/** Schema field (after Routes[0].) → the flag that sets it. */
const FLAG_OF: ReadonlyArray<[RegExp, string, keyof RouteFlags]> = [
  [/^Name/, '--name', 'name'],
  [/^Match\.PathPrefix/, '--path-prefix', 'pathPrefix'],
  [/^Match\.PathExact/, '--path-exact', 'pathExact'],
  [/^Match\.PathRegex/, '--path-regex', 'pathRegex'],
  [/^Match\.Methods/, '--method', 'method'],
  [/^Match\.Header/, '--header', 'header'],
  [/^Match\.Query/, '--query', 'query'],
  [/^Match\.Source/, '--source', 'source'],
  [/^Match/, '--path-*', 'pathPrefix'],
  [/^Destination/, '--to', 'to'],
  [/^Timeout/, '--timeout', 'timeout'],
  [/^Retries\.NumRetries/, '--retries', 'retries'],
  [/^Retries\.PerTryTimeout/, '--per-try-timeout', 'perTryTimeout'],
  [/^RequestHeaders\.Set/, '--set-header', 'setHeader'],
  [/^RequestHeaders\.Add/, '--add-header', 'addHeader'],
  [/^RequestHeaders\.Remove/, '--remove-header', 'removeHeader'],
  [/^PrefixRewrite/, '--prefix-rewrite', 'prefixRewrite'],
  [/^Redirect/, '--redirect', 'redirect'],
  [/^Fault\.Delay/, '--fault-delay', 'faultDelay'],
  [/^Fault\.Abort/, '--fault-abort', 'faultAbort'],
  [/^Mirror/, '--mirror', 'mirror'],
];

const usage = (message: string, hint: string) => new MeshError('MESH_E_USAGE', message, { hint: `${hint}; nothing was stored` });

const shownFlag = (value: unknown) => (Array.isArray(value) ? value.map((v) => JSON.stringify(v)).join(' ') : JSON.stringify(value));

/** "100ms@10%" → [100ms, 10]; the percent sign is optional. */
function atPercent(flag: string, text: string, what: string): [string, number] {
  const m = /^(.+)@(\d+(?:\.\d+)?)%?$/.exec(text);
  if (!m) throw usage(`invalid ${flag} ${JSON.stringify(text)}: expected ${what}@PERCENT`, `give e.g. ${flag} ${flag === '--fault-delay' ? '100ms@10%' : flag === '--fault-abort' ? '503@5%' : 'shadow@10%'}`);
  return [m[1] as string, Number(m[2])];
}

/** NAME=VALUE pairs of a repeated flag, as a record. */
function pairs(flag: string, values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  return Object.fromEntries(
    values.map((v) => {
      const eq = v.indexOf('=');
      if (eq <= 0) throw usage(`invalid ${flag} ${JSON.stringify(v)}: expected NAME=VALUE`, `give ${flag} x-env=prod`);
      return [v.slice(0, eq), v.slice(eq + 1)];
    }),
  );
}

/** --header: k=v exact, k^=v prefix, k~re regex, k present, !k absent. */
export function headerMatchOf(text: string): NonNullable<NonNullable<StoredRoute['Match']>['Header']>[number] {
  if (text.startsWith('!')) return { Name: text.slice(1), Absent: true };
  const eq = text.indexOf('=');
  const tilde = text.indexOf('~');
  if (tilde > 0 && (eq < 0 || tilde < eq)) return { Name: text.slice(0, tilde), Regex: text.slice(tilde + 1) };
  if (eq > 1 && text[eq - 1] === '^') return { Name: text.slice(0, eq - 1), Prefix: text.slice(eq + 1) };
  if (eq > 0) return { Name: text.slice(0, eq), Exact: text.slice(eq + 1) };
  if (eq === 0 || tilde === 0) throw usage(`invalid --header ${JSON.stringify(text)}: no header name`, 'give --header NAME=VALUE, NAME^=PREFIX, NAME~REGEX, NAME (present) or !NAME (absent)');
  return { Name: text, Present: true };
}

/** --query: k=v exact, k~re regex, k present. */
export function queryMatchOf(text: string): NonNullable<NonNullable<StoredRoute['Match']>['Query']>[number] {
  const eq = text.indexOf('=');
  const tilde = text.indexOf('~');
  if (eq === 0 || tilde === 0) throw usage(`invalid --query ${JSON.stringify(text)}: no parameter name`, 'give --query NAME=VALUE, NAME~REGEX or NAME (present)');
  if (tilde > 0 && (eq < 0 || tilde < eq)) return { Name: text.slice(0, tilde), Regex: text.slice(tilde + 1) };
  if (eq > 0) return { Name: text.slice(0, eq), Exact: text.slice(eq + 1) };
  return { Name: text, Present: true };
}

/**
 * --to NAME[=WEIGHT]: a subset of the destination when it has one of that
 * name, else a service; SERVICE:SUBSET names a subset of another service.
 * Weights left out share what the given ones leave of 100.
 */
export function splitOf(values: readonly string[], destinationSubsets: ReadonlySet<string>, flag = '--to'): Array<{ Service?: string; Subset?: string; Weight: number }> {
  const parsed = values.map((v) => {
    const m = /^([^=]+?)(?:=(\d+(?:\.\d+)?)%?)?$/.exec(v);
    if (!m) throw usage(`invalid ${flag} ${JSON.stringify(v)}: expected SUBSET_OR_SERVICE[=WEIGHT]`, `give ${flag} v2=10`);
    const name = m[1] as string;
    const colon = name.indexOf(':');
    const target = colon > 0 ? { Service: name.slice(0, colon), Subset: name.slice(colon + 1) } : destinationSubsets.has(name) ? { Subset: name } : { Service: name };
    return { target, weight: m[2] === undefined ? undefined : Number(m[2]) };
  });
  const weights = evenWeights(parsed.map((p) => p.weight));
  return parsed.map((p, i) => ({ ...p.target, Weight: weights[i] as number }));
}

/** The route the flags describe, checked; a problem names its flag and value. */
export function routeFromFlags(flags: RouteFlags, destinationSubsets: ReadonlySet<string>): StoredRoute {
  if (!flags.name) throw usage('missing --name', 'give --name NAME (adding a name that exists replaces that route)');
  if (!flags.to?.length && flags.redirect === undefined) throw usage(`route ${flags.name} sends nowhere: missing --to`, 'give --to SUBSET_OR_SERVICE[=WEIGHT] (repeat for a split), or --redirect PATH');
  if (flags.to?.length && flags.redirect !== undefined) throw usage(`give --to or --redirect, not both (--redirect ${JSON.stringify(flags.redirect)} answers the request itself)`, 'drop one of them');
  const paths = (['pathExact', 'pathPrefix', 'pathRegex'] as const).filter((k) => flags[k] !== undefined);
  if (paths.length > 1) throw usage(`give at most one of --path-exact, --path-prefix, --path-regex, got ${paths.map((p) => `--${p.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`, 'a route matches one path rule; add another route for another path');

  const header = (flags.header ?? []).map(headerMatchOf);
  const query = (flags.query ?? []).map(queryMatchOf);
  const match: NonNullable<StoredRoute['Match']> = {
    ...(flags.pathExact !== undefined ? { PathExact: flags.pathExact } : {}),
    ...(flags.pathPrefix !== undefined ? { PathPrefix: flags.pathPrefix } : {}),
    ...(flags.pathRegex !== undefined ? { PathRegex: flags.pathRegex } : {}),
    ...(flags.method?.length ? { Methods: [...new Set(flags.method.map((m) => m.toUpperCase()))] } : {}),
    ...(header.length ? { Header: header } : {}),
    ...(query.length ? { Query: query } : {}),
    ...(flags.source !== undefined ? { Source: flags.source } : {}),
  };
  const retries = {
    ...(flags.retries !== undefined ? { NumRetries: /^\d+$/.test(flags.retries) ? Number(flags.retries) : (flags.retries as unknown as number) } : {}),
    ...(flags.perTryTimeout !== undefined ? { PerTryTimeout: flags.perTryTimeout } : {}),
  };
  const headers = {
    ...(flags.addHeader?.length ? { Add: pairs('--add-header', flags.addHeader) } : {}),
    ...(flags.setHeader?.length ? { Set: pairs('--set-header', flags.setHeader) } : {}),
    ...(flags.removeHeader?.length ? { Remove: flags.removeHeader } : {}),
  };
  const redirect = flags.redirect === undefined ? undefined : /^(.*?)(?:@(\d{3}))?$/.exec(flags.redirect);
  const delay = flags.faultDelay === undefined ? undefined : atPercent('--fault-delay', flags.faultDelay, 'DURATION');
  const abort = flags.faultAbort === undefined ? undefined : atPercent('--fault-abort', flags.faultAbort, 'STATUS');
  if (abort && !/^\d{3}$/.test(abort[0])) throw usage(`invalid --fault-abort ${JSON.stringify(flags.faultAbort)}: ${JSON.stringify(abort[0])} is not an HTTP status`, 'give e.g. --fault-abort 503@5%');
  const mirror = flags.mirror === undefined ? undefined : atPercent('--mirror', flags.mirror, 'SERVICE[:SUBSET]');
  const [mirrorService, mirrorSubset] = mirror ? (mirror[0].split(':', 2) as [string, string | undefined]) : [];

  const route: StoredRoute = {
    Name: flags.name,
    ...(Object.keys(match).length ? { Match: match } : {}),
    ...(flags.to?.length ? { Destination: { Split: splitOf(flags.to, destinationSubsets) } } : {}),
    ...(flags.timeout !== undefined ? { Timeout: flags.timeout } : {}),
    ...(Object.keys(retries).length ? { Retries: retries } : {}),
    ...(Object.keys(headers).length ? { RequestHeaders: headers } : {}),
    ...(flags.prefixRewrite !== undefined ? { PrefixRewrite: flags.prefixRewrite } : {}),
    ...(redirect ? { Redirect: { ...(redirect[1] ? { Path: redirect[1] } : {}), ...(redirect[2] ? { Status: Number(redirect[2]) as 301 } : {}) } } : {}),
    ...(delay || abort ? { Fault: { ...(delay ? { Delay: { Duration: delay[0], Percent: delay[1] } } : {}), ...(abort ? { Abort: { Status: Number(abort[0]), Percent: abort[1] } } : {}) } } : {}),
    ...(mirror ? { Mirror: { Service: mirrorService as string, ...(mirrorSubset ? { Subset: mirrorSubset } : {}), Percent: mirror[1] } } : {}),
  };
  const checked = checkRouter({ Routes: [route] });
  if (!checked.ok) {
    const text = checked.errors.map((e) => {
      const field = e.path.replace(/^Routes\[0\]\.?/, '');
      const found = FLAG_OF.find(([re]) => re.test(field));
      return found ? `${found[1]} ${shownFlag(flags[found[2]])}: ${e.message}` : e.message;
    });
    throw usage(`invalid route ${flags.name}: ${text.join('; ')}`, 'fix the flag named');
  }
  return checked.value.Routes[0] as StoredRoute;
}
