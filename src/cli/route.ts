// `meshctl route add|list|get|delete` (and, from their own files, apply,
// explain, history and rollback): where requests to a service go. A
// destination's routes are one service-router entry (config/routes.ts); add
// and delete edit it with check-and-set (route-entries.ts). Flags are
// checked before anything is sent (exit 2); the server then checks that the
// subsets and services named exist (exit 1 with its reason; nothing is
// stored).

import type { Command } from 'commander';
import { describeMatch, describeTarget, ROUTER_KIND, type StoredRoute, type StoredRouter } from '../config/routes.ts';
import { withoutRoute, withRoute } from '../config/route-edit.ts';
import { MeshError } from '../lib/errors.ts';
import { parseCount } from '../lib/count.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';
import { addRouteApplyCommand } from './route-apply.ts';
import { checkDestination, editRouter, entryPath, getRouter, subsetsOf, type Entry } from './route-entries.ts';
import { routeFromFlags, type RouteFlags } from './route-flags.ts';
import { addRouteExplainCommands } from './route-versions.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

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
    const asked = flags.position === undefined ? undefined : parseCount(flags.position, { min: 1 });
    if (flags.position !== undefined && asked === undefined) throw new MeshError('MESH_E_USAGE', `invalid --position ${JSON.stringify(flags.position)}: expected a place from 1`, { hint: 'give --position 1 to put the route first; nothing was stored' });
    const client = clientFor(flags);
    const routeSpec = routeFromFlags(flags, await subsetsOf(client, dest));
    const position = asked === undefined ? undefined : asked - 1;
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

  addRouteApplyCommand(route);
  addRouteExplainCommands(route);
}
