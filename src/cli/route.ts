// `meshctl route add|list|get|delete|apply|explain|history|rollback` and
// `meshctl split`: where requests to a service go. A destination's routes
// are one service-router entry (config/routes.ts); add, delete and split
// edit it with check-and-set (route-entries.ts), apply sends whole entries
// for several services in one all-or-nothing request. Flags are checked
// before anything is sent (exit 2); the server then checks that the subsets
// and services named exist (exit 1 with its reason; nothing is stored).

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { describeFieldErrors } from '../config/kind.ts';
import { checkResolver, checkRouter, describeMatch, describeTarget, RESOLVER_KIND, ROUTER_KIND, routerKind, type StoredRoute, type StoredRouter } from '../config/routes.ts';
import { withoutRoute, withRoute, withSplit } from '../config/route-edit.ts';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';
import { editRouter, entryPath, getRouter, subsetsOf, type Entry } from './route-entries.ts';
import { routeFromFlags, splitOf, type RouteFlags } from './route-flags.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function checkDestination(name: string): void {
  if (!routerKind.nameRule.test(name)) throw new MeshError('MESH_E_USAGE', `invalid service "${name}"`, { hint: `give ${routerKind.nameHelp}` });
}

/** What a route does besides sending, as one line: "timeout 2s, retries 3, fault abort 503@5%". */
export function describeExtras(r: StoredRoute): string {
  const parts: string[] = [];
  if (r.Timeout) parts.push(`timeout ${r.Timeout}`);
  if (r.Retries?.NumRetries !== undefined) parts.push(`retries ${r.Retries.NumRetries}`);
  if (r.Retries?.PerTryTimeout) parts.push(`per-try ${r.Retries.PerTryTimeout}`);
  if (r.Retries?.RetryOn) parts.push(`retry-on ${r.Retries.RetryOn.join(',')}`);
  for (const [k, v] of Object.entries(r.RequestHeaders?.Set ?? {})) parts.push(`set ${k}=${v}`);
  for (const [k, v] of Object.entries(r.RequestHeaders?.Add ?? {})) parts.push(`add ${k}=${v}`);
  for (const k of r.RequestHeaders?.Remove ?? []) parts.push(`remove ${k}`);
  if (r.PrefixRewrite) parts.push(`rewrite ${r.Match?.PathPrefix} → ${r.PrefixRewrite}`);
  if (r.Fault?.Delay) parts.push(`fault delay ${r.Fault.Delay.Duration}@${r.Fault.Delay.Percent}%`);
  if (r.Fault?.Abort) parts.push(`fault abort ${r.Fault.Abort.Status}@${r.Fault.Abort.Percent}%`);
  if (r.Mirror) parts.push(`mirror ${describeTarget(r.Mirror)}@${r.Mirror.Percent}%`);
  return parts.join(', ');
}

function describeTo(r: StoredRoute, destination: string): string {
  if (r.Redirect) return `redirect ${r.Redirect.Status ?? 302}${r.Redirect.Path ? ` ${r.Redirect.Path}` : ''}`;
  const split = r.Destination?.Split ?? [];
  return split.map((t) => `${describeTarget(t, destination)}${split.length > 1 ? `=${t.Weight}` : ''}`).join(' ');
}

function routeRows(destination: string, config: StoredRouter, withDestination: boolean): string[][] {
  return config.Routes.map((r, i) => [...(withDestination ? [destination, String(config.Version ?? '')] : []), String(i + 1), r.Name, describeMatch(r.Match), describeTo(r, destination), describeExtras(r) || '-']);
}

// ---- route apply: files.

interface ApplyEntry {
  Kind: string;
  Name: string;
  Config: unknown;
}

/** A file's entries: { service-router: { DEST: {Routes} }, service-resolver: { SVC: {Subsets} } } or a list of { Kind, Name, Config }. */
export function entriesOfFile(input: unknown, file: string): ApplyEntry[] {
  const bad = (why: string): never => {
    throw new MeshError('MESH_E_USAGE', `invalid -f ${file}: ${why}`, { hint: 'give { service-router: { DEST: { Routes: [...] } }, service-resolver: { SVC: { Subsets: {...} } } } or a list of { Kind, Name, Config }' });
  };
  if (Array.isArray(input)) {
    return input.map((e, i) => {
      if (!e || typeof e !== 'object' || typeof (e as ApplyEntry).Kind !== 'string' || typeof (e as ApplyEntry).Name !== 'string') bad(`entry [${i}] needs Kind, Name and Config`);
      return { Kind: (e as ApplyEntry).Kind, Name: (e as ApplyEntry).Name, Config: (e as ApplyEntry).Config };
    });
  }
  if (!input || typeof input !== 'object') return bad('expected a map or a list of entries');
  const unknown = Object.keys(input).filter((k) => k !== ROUTER_KIND && k !== RESOLVER_KIND);
  if (unknown.length) bad(`unknown top-level key(s) ${unknown.join(', ')}, expected ${ROUTER_KIND}, ${RESOLVER_KIND}`);
  return [RESOLVER_KIND, ROUTER_KIND].flatMap((Kind) => {
    const byName = (input as Record<string, unknown>)[Kind] ?? {};
    if (typeof byName !== 'object' || Array.isArray(byName)) return bad(`${Kind} must map service names to entries`);
    return Object.entries(byName as Record<string, unknown>).map(([Name, Config]) => ({ Kind, Name, Config }));
  });
}

/** Every problem in a file's entries, as one line each; empty when all pass the schemas. */
export function fileProblems(entries: readonly ApplyEntry[]): string[] {
  return entries.flatMap((e) => {
    if (e.Kind !== ROUTER_KIND && e.Kind !== RESOLVER_KIND) return [`Kind ${JSON.stringify(e.Kind)}: expected ${ROUTER_KIND} or ${RESOLVER_KIND}`];
    if (!routerKind.nameRule.test(e.Name)) return [`${e.Kind} ${JSON.stringify(e.Name)}: expected ${routerKind.nameHelp}`];
    const checked = (e.Kind === ROUTER_KIND ? checkRouter : checkResolver)(e.Config);
    return checked.ok ? [] : [`${e.Kind} ${e.Name}: ${describeFieldErrors(checked.errors)}`];
  });
}

function withRouteFlags(command: Command): Command {
  return command
    .requiredOption('--name <name>', 'the route\'s name; an existing name is replaced in place')
    .option('--path-prefix <path>', 'match: the normalized path starts with this')
    .option('--path-exact <path>', 'match: exactly this normalized path')
    .option('--path-regex <re>', 'match: the whole normalized path matches this RE2 regex')
    .option('--method <method>', 'match: this method (repeat for more)', collect)
    .option('--header <match>', 'match a header: NAME=VALUE, NAME^=PREFIX, NAME~REGEX, NAME (present), !NAME (absent); repeat for more', collect)
    .option('--query <match>', 'match a query parameter: NAME=VALUE, NAME~REGEX, NAME (present); repeat for more', collect)
    .option('--source <service>', 'match: calls from this service')
    .option('--to <target>', 'send to SUBSET (of DEST, when it defines one of that name), else SERVICE, or SERVICE:SUBSET; =WEIGHT for a split (repeat; weights left out share the rest of 100)', collect)
    .option('--timeout <duration>', 'request timeout for this route (overrides service-defaults)')
    .option('--retries <n>', 'retries for this route (overrides service-defaults)')
    .option('--per-try-timeout <duration>', 'timeout of each try')
    .option('--set-header <k=v>', 'set a request header (repeat for more)', collect)
    .option('--add-header <k=v>', 'add a request header (repeat for more)', collect)
    .option('--remove-header <name>', 'remove a request header (repeat for more)', collect)
    .option('--prefix-rewrite <path>', 'replace the --path-prefix matched with this')
    .option('--redirect <path[@status]>', 'answer with a redirect instead of sending (status 301, 302, 307 or 308; default 302)')
    .option('--fault-delay <duration@percent>', 'delay this share of requests, e.g. 100ms@10%')
    .option('--fault-abort <status@percent>', 'answer this share of requests with this status, e.g. 503@5%')
    .option('--mirror <service[:subset]@percent>', 'also send this share of requests to a mirror, whose answers are discarded, e.g. shadow@10%')
    .option('--position <n>', 'put the route at this place, from 1 (default: a new route goes last, before a catch-all split; a replaced one keeps its place)');
}

export function addRouteCommands(program: Command): void {
  const route = program
    .command('route')
    .description('route requests to a service by path, method, header, query or caller: to subsets, other services or a weighted split')
    .addHelpText(
      'after',
      `\nEach service has an ordered list of routes; the first whose match matches a request decides where it goes.
No route matches: the request goes to every instance of the service, as without routes.
Subsets are defined with meshctl subset set; every change is a new version (meshctl route history, rollback).

Examples:
  meshctl subset set api v1 --meta version=v1
  meshctl subset set api v2 --meta version=v2
  meshctl route add api --name canary --header x-canary=1 --to v2
  meshctl route add api --name search --path-prefix /search --to search-svc --timeout 2s --retries 3
  meshctl split api v1=90 v2=10
  meshctl route explain api --path /search --header x-canary=1
  meshctl route history api
  meshctl route rollback api --to 3`,
    );

  withTarget(withRouteFlags(route.command('add').description('add a route to DEST, or replace the route of that name').argument('<dest>'))).addHelpText(
    'after',
    `\n--to names a subset of DEST when DEST defines one of that name (meshctl subset list DEST), else a service.

Examples:
  meshctl route add api --name canary --header x-canary=1 --to v2
  meshctl route add api --name canary-split --path-prefix /api --to v1=90 --to v2=10
  meshctl route add api --name legacy --path-prefix /v1/ --prefix-rewrite /v2/ --to api-v2
  meshctl route add api --name moved --path-exact /old --redirect /new@301
  meshctl route add api --name chaos --source web --fault-abort 503@5% --fault-delay 100ms@10% --to v1
  meshctl route add api --name shadow --mirror api-next@10% --to v1 --position 1`,
  ).action(async (dest: string, flags: TargetFlags & RouteFlags & { position?: string }) => {
    checkDestination(dest);
    if (flags.position !== undefined && !/^[1-9]\d*$/.test(flags.position)) throw new MeshError('MESH_E_USAGE', `invalid --position ${JSON.stringify(flags.position)}: expected a place from 1`, { hint: 'give --position 1 to put the route first; nothing was stored' });
    const client = clientFor(flags);
    const routeSpec = routeFromFlags(flags, await subsetsOf(client, dest));
    const position = flags.position === undefined ? undefined : Number(flags.position) - 1;
    let replaced = false;
    await editRouter(client, dest, (current) => {
      replaced = current?.Routes.some((r) => r.Name === routeSpec.Name) ?? false;
      return withRoute(current, routeSpec, position);
    });
    const after = await getRouter(client, dest);
    const place = (after?.Config.Routes.findIndex((r) => r.Name === routeSpec.Name) ?? -1) + 1;
    process.stdout.write(`${replaced ? 'replaced' : 'added'} route ${routeSpec.Name} of ${dest} at #${place} (version ${after?.Config.Version ?? '?'}): ${describeMatch(routeSpec.Match)} → ${describeTo(routeSpec, dest)}\n`);
  });

  withTarget(route.command('list').description('every route of DEST, or of every service').argument('[dest]').option('--json', 'print the entries as JSON')).action(async (dest: string | undefined, flags: TargetFlags & { json?: boolean }) => {
    if (dest !== undefined) checkDestination(dest);
    const client = clientFor(flags);
    const entries = dest === undefined ? (await client.request<Entry<StoredRouter>[]>('GET', entryPath(ROUTER_KIND))).body : [await getRouter(client, dest)].filter((e): e is Entry<StoredRouter> => e !== undefined);
    if (flags.json) return printJson(entries);
    const rows = entries.flatMap((e) => routeRows(e.Name, e.Config, true));
    if (rows.length === 0) return void process.stdout.write(dest ? `${dest} has no routes: requests go to every instance\n` : 'no routes\n');
    printTable(['DEST', 'VERSION', '#', 'ROUTE', 'MATCH', 'TO', 'ALSO'], rows);
  });

  withTarget(route.command('get').description('the routes of DEST, in the order they are tried').argument('<dest>').option('--json', 'print the entry as JSON')).action(async (dest: string, flags: TargetFlags & { json?: boolean }) => {
    checkDestination(dest);
    const entry = await getRouter(clientFor(flags), dest);
    if (flags.json) return printJson(entry ?? { Name: dest, Config: { Routes: [] } });
    if (!entry) return void process.stdout.write(`${dest} has no routes: requests go to every instance\n`);
    process.stdout.write(`${dest}: version ${entry.Config.Version ?? '?'}, first match wins; no match: every instance of ${dest}\n`);
    printTable(['#', 'ROUTE', 'MATCH', 'TO', 'ALSO'], routeRows(dest, entry.Config, false));
  });

  withTarget(route.command('delete').description('delete one route of DEST (--name), or all of them').argument('<dest>').option('--name <name>', 'the route to delete')).action(async (dest: string, flags: TargetFlags & { name?: string }) => {
    checkDestination(dest);
    const removed = await editRouter(clientFor(flags), dest, (current) => {
      const result = withoutRoute(current, flags.name);
      return result.removed ? result.config : undefined;
    });
    const what = flags.name === undefined ? `every route of ${dest}` : `route ${flags.name} of ${dest}`;
    process.stdout.write(removed ? `deleted ${what}\n` : `no ${what.replace(/^every route/, 'routes')}; nothing to delete\n`);
  });

  withTarget(
    route
      .command('apply')
      .description('store route sets and subsets from a YAML or JSON file, for several services at once; all or nothing')
      .requiredOption('-f, --file <file>', 'the file (- for stdin)')
      .addHelpText(
        'after',
        `\nThe file:
  service-resolver:
    api: { Subsets: { v1: { Filter: { Meta: { version: v1 } } }, v2: { Filter: { Meta: { version: v2 } } } } }
  service-router:
    api:
      Routes:
        - Name: canary
          Match: { Header: [{ Name: x-canary, Exact: "1" }] }
          Destination: { Split: [{ Subset: v2, Weight: 100 }] }
        - Name: split
          Destination: { Split: [{ Subset: v1, Weight: 90 }, { Subset: v2, Weight: 10 }] }
or a list of { Kind, Name, Config }. Each route set named replaces that service's routes (a new version).

Examples:
  meshctl route apply -f routes.yaml`,
      ),
  ).action(async (flags: TargetFlags & { file: string }) => {
    let text: string;
    try {
      text = readFileSync(flags.file === '-' ? 0 : flags.file, 'utf8');
    } catch (error) {
      throw new MeshError('MESH_E_USAGE', `cannot read -f ${flags.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { hint: 'give a readable YAML or JSON file' });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text); // YAML is a superset of JSON
    } catch (error) {
      throw new MeshError('MESH_E_USAGE', `invalid -f ${flags.file}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`, { hint: 'fix the file; nothing was stored' });
    }
    const entries = entriesOfFile(parsed, flags.file);
    if (entries.length === 0) throw new MeshError('MESH_E_USAGE', `-f ${flags.file} has no entries`, { hint: 'give service-router and/or service-resolver entries' });
    const problems = fileProblems(entries);
    if (problems.length > 0) throw new MeshError('MESH_E_USAGE', `invalid -f ${flags.file}: ${problems.join('; ')}`, { hint: 'fix the file; nothing was stored' });
    const { body } = await clientFor(flags).request<{ Stored: Array<{ Kind: string; Name: string; Version?: number }> }>('POST', '/v1/mesh/routes/apply', { Entries: entries });
    for (const s of body.Stored) process.stdout.write(`stored ${s.Kind} ${s.Name}${s.Version !== undefined ? ` (version ${s.Version})` : ''}\n`);
  });

  withTarget(
    route
      .command('explain')
      .description('which route of DEST a request would match, why, and where it would go')
      .argument('<dest>')
      .option('--path <path>', 'the request path (normalized as the proxy does; ?query allowed)', '/')
      .option('--method <method>', 'the method', 'GET')
      .option('--header <k=v>', 'a request header (repeat for more)', collect)
      .option('--query <k=v>', 'a query parameter (repeat for more)', collect)
      .option('--source <service>', 'the calling service')
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExamples:\n  meshctl route explain api --path /search --header x-canary=1\n  meshctl route explain api --path /orders --method POST --source web'),
  ).action(async (dest: string, flags: TargetFlags & { path: string; method: string; header?: string[]; query?: string[]; source?: string; json?: boolean }) => {
    checkDestination(dest);
    const query = new URLSearchParams({ path: flags.path, method: flags.method.toUpperCase() });
    for (const h of flags.header ?? []) {
      const eq = h.indexOf('=');
      if (eq <= 0) throw new MeshError('MESH_E_USAGE', `invalid --header ${JSON.stringify(h)}: expected NAME=VALUE`, { hint: 'give --header x-canary=1' });
      query.append('header', `${h.slice(0, eq)}:${h.slice(eq + 1)}`);
    }
    for (const q of flags.query ?? []) query.append('query', q);
    if (flags.source !== undefined) query.set('source', flags.source);
    const { body } = await clientFor(flags).request<{ Rule: string | null; Index: number; Path: string; Targets: Array<{ Service: string; Subset?: string; Weight: number }>; Redirect?: { Path?: string; Status: number }; Why: string[]; Version: number | null }>(
      'GET',
      `/v1/mesh/routes/${encodeURIComponent(dest)}/explain?${query}`,
    );
    if (flags.json) return printJson(body);
    for (const line of body.Why) process.stdout.write(`  ${line}\n`);
    const where = body.Redirect
      ? `redirect ${body.Redirect.Status}${body.Redirect.Path ? ` to ${body.Redirect.Path}` : ''}`
      : body.Targets.map((t) => `${describeTarget({ Service: t.Service, Subset: t.Subset })}${body.Targets.length > 1 ? ` ${t.Weight}%` : ''}`).join(', ');
    const rule = body.Rule === null ? 'no route' : `route ${body.Rule} (#${body.Index + 1}${body.Version === null ? '' : `, version ${body.Version}`})`;
    process.stdout.write(`${flags.method.toUpperCase()} ${body.Path} → ${where}: ${rule}\n`);
  });

  withTarget(route.command('history').description('the versions of DEST\'s route set, oldest first').argument('<dest>').option('--json', 'print JSON')).action(async (dest: string, flags: TargetFlags & { json?: boolean }) => {
    checkDestination(dest);
    const { body } = await clientFor(flags).request<Array<{ Version: number; Time: string; Cause: string; Routes: string[]; Summary: string; Current: boolean }>>('GET', `/v1/mesh/routes/${encodeURIComponent(dest)}/history`);
    if (flags.json) return printJson(body);
    if (body.length === 0) return void process.stdout.write(`${dest} has no route history\n`);
    printTable(['VERSION', 'TIME', 'CAUSE', 'ROUTES', 'SUMMARY'], body.map((h) => [`${h.Version}${h.Current ? ' *' : ''}`, h.Time, h.Cause, h.Routes.join(',') || '-', h.Summary]));
  });

  withTarget(route.command('rollback').description('store an earlier version of DEST\'s route set as a new version').argument('<dest>').requiredOption('--to <version>', 'the version to restore (meshctl route history DEST)')).action(async (dest: string, flags: TargetFlags & { to: string }) => {
    checkDestination(dest);
    if (!/^[1-9]\d*$/.test(flags.to)) throw new MeshError('MESH_E_USAGE', `invalid --to ${JSON.stringify(flags.to)}: expected a version number`, { hint: `see meshctl route history ${dest}` });
    const { body } = await clientFor(flags).request<{ Version: number; RolledBackTo: number; Routes: string[] }>('POST', `/v1/mesh/routes/${encodeURIComponent(dest)}/rollback?to=${flags.to}`);
    process.stdout.write(`rolled ${dest} back to version ${body.RolledBackTo}, stored as version ${body.Version}: ${body.Routes.length ? `routes ${body.Routes.join(', ')}` : 'no routes'}\n`);
  });

  withTarget(
    program
      .command('split')
      .description('send DEST\'s requests that no other route matches over subsets by weight: the catch-all route "split", last')
      .argument('<dest>')
      .argument('<weights...>', 'SUBSET=WEIGHT (or SERVICE=WEIGHT, SERVICE:SUBSET=WEIGHT), adding up to 100')
      .addHelpText('after', '\nSets (or replaces) the route named split at the end of DEST\'s routes.\n\nExamples:\n  meshctl split api v1=90 v2=10\n  meshctl split api v1=50 v2=50\n  meshctl split api v2=100'),
  ).action(async (dest: string, weights: string[], flags: TargetFlags) => {
    checkDestination(dest);
    const client = clientFor(flags);
    const split = splitOf(weights, await subsetsOf(client, dest), 'split');
    const checked = checkRouter(withSplit(undefined, split));
    if (!checked.ok) throw new MeshError('MESH_E_USAGE', `invalid split ${weights.join(' ')}: ${checked.errors.map((e) => e.message).join('; ')}`, { hint: 'give SUBSET=WEIGHT pairs adding up to 100, e.g. meshctl split api v1=90 v2=10; nothing was stored' });
    await editRouter(client, dest, (current) => withSplit(current, split));
    process.stdout.write(`split ${dest}: ${split.map((s) => `${describeTarget(s, dest)}=${s.Weight}`).join(' ')}\n`);
  });
}
