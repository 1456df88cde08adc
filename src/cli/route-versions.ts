// `meshctl route explain|history|rollback`: what DEST's routes do with a
// request, the versions of its route set, and going back to one.

import type { Command } from 'commander';
import { describeTarget } from '../config/routes.ts';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';
import { checkDestination } from './route-entries.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addRouteExplainCommands(route: Command): void {
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

}
