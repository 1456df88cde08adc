// `meshctl intention allow|deny|list|delete|check`: who may call whom. An
// intention is a source in the destination's service-intentions entry;
// allow/deny/delete read that entry, edit it (config/intention-edit.ts),
// check it, and write it back with check-and-set, so concurrent edits of one
// destination are all kept. Everything is checked before anything is sent.
// check prints the decision and what decided it; it exits 0 whether the call
// is allowed or denied (use --json and .Allowed in scripts).

import { CAS_ATTEMPTS, casBackoff, lostCas } from './cas.ts';
import type { Command } from 'commander';
import { describeFieldErrors } from '../config/kind.ts';
import { checkIntentions, describeHttpMatch, intentionName, intentionsKind, type Action, type HttpMatch, type StoredIntentions } from '../config/intentions.ts';
import { withIntention, withoutIntention } from '../config/intention-edit.ts';
import { normalizeRequestTarget } from '../lib/http/path-normalize.ts';
import { MeshError } from '../lib/errors.ts';
import type { ApiClient } from './api-client.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';

interface MatchFlags {
  pathPrefix?: string;
  pathExact?: string;
  pathRegex?: string;
  method?: string[];
  header?: string[];
}

interface Entry {
  Config: StoredIntentions;
  ModifyIndex: number;
}

interface ConsulIntention {
  SourceName: string;
  DestinationName: string;
  Action?: Action;
  Permissions?: Array<{ Action: Action; HTTP: HttpMatch }>;
  Precedence: number;
  Description: string;
}

const FLAG_OF: Readonly<Record<string, string>> = { PathPrefix: '--path-prefix', PathExact: '--path-exact', PathRegex: '--path-regex', Methods: '--method', Header: '--header' };
const entryPath = (destination: string) => `/v1/mesh/config/${intentionsKind.kind}/${encodeURIComponent(destination)}`;
const collect = (value: string, previous: string[] = []) => [...previous, value];

function checkNames(source: string, destination: string): void {
  for (const [what, name] of [['source', source], ['destination', destination]] as const) {
    if (!intentionsKind.nameRule.test(name)) throw new MeshError('MESH_E_USAGE', `invalid ${what} "${name}"`, { hint: 'give a service name (letters, digits and dashes) or * for every service' });
  }
}

/** The HTTP match the flags describe, checked; undefined when no L7 flag is given. */
function httpMatchOf(flags: MatchFlags): HttpMatch | undefined {
  const paths = (['pathExact', 'pathPrefix', 'pathRegex'] as const).filter((k) => flags[k] !== undefined);
  if (paths.length > 1) throw new MeshError('MESH_E_USAGE', 'give at most one of --path-exact, --path-prefix, --path-regex', { hint: 'one permission matches one path rule; add another intention for another path' });
  const headers = (flags.header ?? []).map((h) => {
    const eq = h.indexOf('=');
    if (eq === 0) throw new MeshError('MESH_E_USAGE', `invalid --header "${h}"`, { hint: 'give --header NAME=VALUE, or --header NAME for "present"' });
    return eq === -1 ? { Name: h, Present: true as const } : { Name: h.slice(0, eq), Exact: h.slice(eq + 1) };
  });
  const http: HttpMatch = {
    ...(flags.pathExact !== undefined ? { PathExact: flags.pathExact } : {}),
    ...(flags.pathPrefix !== undefined ? { PathPrefix: flags.pathPrefix } : {}),
    ...(flags.pathRegex !== undefined ? { PathRegex: flags.pathRegex } : {}),
    ...(flags.method?.length ? { Methods: [...new Set(flags.method.map((m) => m.toUpperCase()))] } : {}),
    ...(headers.length ? { Header: headers } : {}),
  };
  if (Object.keys(http).length === 0) return undefined;
  const checked = checkIntentions({ Sources: [{ Name: 'check', Permissions: [{ Action: 'deny', HTTP: http }] }] });
  if (!checked.ok) {
    const text = checked.errors.map((e) => {
      const field = /HTTP\.(\w+)/.exec(e.path)?.[1] ?? '';
      const flag = FLAG_OF[field];
      return flag ? `${flag} ${JSON.stringify(flags[(flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase())) as keyof MatchFlags] ?? '')}: ${e.message}` : e.message;
    });
    throw new MeshError('MESH_E_USAGE', `invalid intention: ${text.join('; ')}`, { hint: 'fix the flag named; nothing was written' });
  }
  return http;
}

async function getEntry(client: ApiClient, destination: string): Promise<Entry | undefined> {
  try {
    return (await client.request<Entry>('GET', entryPath(destination))).body;
  } catch (error) {
    if (error instanceof MeshError && error.code === 'MESH_E_NOT_FOUND') return undefined;
    throw error;
  }
}

/** The API client reports a 409 (a lost check-and-set) as an internal error; its message keeps the status. */

/** Read, edit, check, write back with check-and-set; on a lost race, again on top of the other write. */
async function editEntry(client: ApiClient, destination: string, edit: (current: StoredIntentions | undefined) => StoredIntentions | undefined): Promise<boolean> {
  for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
    if (attempt > 1) await casBackoff(attempt);
    const current = await getEntry(client, destination);
    const next = edit(current?.Config);
    if (next === undefined) return false;
    const checked = checkIntentions(next);
    if (!checked.ok) throw new MeshError('MESH_E_USAGE', `invalid intention for ${destination}: ${describeFieldErrors(checked.errors)}`, { hint: 'nothing was written' });
    if (checked.value.Sources.length === 0) {
      if (!current) return true;
      const { body } = await client.request<boolean>('DELETE', `${entryPath(destination)}?cas=${current.ModifyIndex}`);
      if (body) return true;
      continue;
    }
    try {
      await client.request('PUT', `${entryPath(destination)}?cas=${current?.ModifyIndex ?? 0}`, checked.value);
      return true;
    } catch (error) {
      if (!lostCas(error)) throw error;
    }
  }
  throw new MeshError('MESH_E_CONFLICT', `the intentions of ${destination} kept changing while this edit was applied; nothing was written`, { hint: 'run the command again' });
}

function withMatchFlags(command: Command): Command {
  return command
    .option('--path-prefix <path>', 'L7: requests whose normalized path starts with this')
    .option('--path-exact <path>', 'L7: requests with exactly this normalized path')
    .option('--path-regex <re>', 'L7: requests whose whole normalized path matches this RE2 regex')
    .option('--method <method>', 'L7: requests with this method (repeat for more)', collect)
    .option('--header <name=value>', 'L7: requests with this header value (NAME alone: present; repeat for more)', collect);
}

function addDecision(parent: Command, action: Action): void {
  withTarget(
    withMatchFlags(
      parent
        .command(action)
        .description(`${action} calls from SOURCE to DESTINATION (* for every service); with L7 flags, only the matching HTTP requests`)
        .argument('<source>')
        .argument('<destination>')
        .option('--description <text>', 'why, for the next operator'),
    ).addHelpText(
      'after',
      `\nWithout L7 flags this sets what SOURCE gets for every call (its L4 action); with them it adds a permission, or
changes the action of one with the same match. L7 flags apply to HTTP services only.

Examples:
  meshctl intention ${action} web api
  meshctl intention ${action} web api --path-prefix /admin
  meshctl intention ${action} '*' api --method POST --method DELETE
  meshctl intention ${action} web api --path-regex '/v[0-9]+/items' --header x-env=prod`,
    ),
  ).action(async (source: string, destination: string, flags: TargetFlags & MatchFlags & { description?: string }) => {
    checkNames(source, destination);
    const http = httpMatchOf(flags);
    const now = new Date().toISOString();
    await editEntry(clientFor(flags), destination, (current) => withIntention(current, { source, action, ...(http ? { http } : {}), ...(flags.description !== undefined ? { description: flags.description } : {}) }, now));
    process.stdout.write(`${action}: ${intentionName(source, destination)}${http ? ` (${describeHttpMatch(http)})` : ''}\n`);
  });
}

async function meshDefault(client: ApiClient): Promise<string> {
  try {
    return (await client.request<{ Config: { default_policy?: string } }>('GET', '/v1/mesh/config/mesh/mesh')).body.Config.default_policy ?? 'deny';
  } catch (error) {
    if (error instanceof MeshError && error.code === 'MESH_E_NOT_FOUND') return 'deny';
    throw error;
  }
}

export function addIntentionCommands(program: Command): void {
  const intention = program
    .command('intention')
    .description('allow or deny calls between services (the mesh default decides the rest: meshctl config set mesh default_policy=allow|deny)')
    .addHelpText(
      'after',
      `\nPrecedence: exact source and destination (9) > * → destination (8) > source → * (6) > * → * (5); the first that
matches decides, and there a matching deny beats a matching allow. Nothing matches: the mesh default (deny on a new mesh).

Examples:
  meshctl intention allow web api
  meshctl intention deny web api --path-prefix /admin
  meshctl intention list
  meshctl intention check web api --path /admin/users --method GET
  meshctl intention delete web api --path-prefix /admin`,
    );

  addDecision(intention, 'allow');
  addDecision(intention, 'deny');

  withTarget(intention.command('list').description('list intentions, highest precedence first').option('--json', 'print JSON (Consul\'s shape)').addHelpText('after', '\nExamples:\n  meshctl intention list\n  meshctl intention list --json')).action(
    async (flags: TargetFlags & { json?: boolean }) => {
      const client = clientFor(flags);
      const { body } = await client.request<ConsulIntention[]>('GET', '/v1/connect/intentions');
      if (flags.json) return printJson(body);
      const rows = body.flatMap((i) => {
        const name = intentionName(i.SourceName, i.DestinationName);
        const precedence = String(i.Precedence);
        return [...(i.Permissions ?? []).map((p) => [name, p.Action, describeHttpMatch(p.HTTP), precedence]), ...(i.Action ? [[name, i.Action, 'all other requests', precedence]] : [])];
      });
      if (rows.length > 0) printTable(['SOURCE → DESTINATION', 'ACTION', 'MATCH', 'PRECEDENCE'], rows);
      else process.stdout.write('no intentions\n');
      process.stdout.write(`calls no intention matches: mesh default_policy=${await meshDefault(client)}\n`);
    },
  );

  withTarget(
    withMatchFlags(intention.command('delete').description('delete an intention, or with L7 flags one of its permissions').argument('<source>').argument('<destination>')).addHelpText(
      'after',
      '\nExamples:\n  meshctl intention delete web api\n  meshctl intention delete web api --path-prefix /admin',
    ),
  ).action(async (source: string, destination: string, flags: TargetFlags & MatchFlags) => {
    checkNames(source, destination);
    const http = httpMatchOf(flags);
    const what = `${intentionName(source, destination)}${http ? ` (${describeHttpMatch(http)})` : ''}`;
    const removed = await editEntry(clientFor(flags), destination, (current) => {
      const result = withoutIntention(current, source, http);
      return result.removed ? result.config : undefined;
    });
    process.stdout.write(removed ? `deleted ${what}\n` : `no intention ${what}; nothing to delete\n`);
  });

  withTarget(
    intention
      .command('check')
      .description('whether SOURCE may call DESTINATION (or make an HTTP request), and which intention decides')
      .argument('<source>')
      .argument('<destination>')
      .option('--path <path>', 'an HTTP request to this path (normalized as the proxy does)')
      .option('--method <method>', 'the HTTP method (default GET when --path or --header is given)')
      .option('--header <name=value>', 'a request header (repeat for more)', collect)
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExits 0 whether the call is allowed or denied; read .Allowed from --json in scripts.\n\nExamples:\n  meshctl intention check web api\n  meshctl intention check web api --path /admin --method POST --header x-env=prod'),
  ).action(async (source: string, destination: string, flags: TargetFlags & { path?: string; method?: string; header?: string[]; json?: boolean }) => {
    for (const [what, name] of [['source', source], ['destination', destination]] as const) {
      if (name === '*' || !intentionsKind.nameRule.test(name)) throw new MeshError('MESH_E_USAGE', `invalid ${what} "${name}"`, { hint: 'check a real call: give service names, not *' });
    }
    const query = new URLSearchParams({ source, destination });
    const isHttp = flags.path !== undefined || flags.method !== undefined || (flags.header?.length ?? 0) > 0;
    const method = (flags.method ?? 'GET').toUpperCase();
    if (flags.path !== undefined) {
      const normalized = normalizeRequestTarget(flags.path);
      if (!normalized.ok) {
        if (flags.json) return printJson({ Allowed: false, DecidedBy: `the proxy refuses the request: ${normalized.reason}`, Precedence: 0, L7: true });
        return void process.stdout.write(`deny: ${intentionName(source, destination)} ${method} ${flags.path} is refused by the proxy before any intention: ${normalized.reason}\n`);
      }
      query.set('path', flags.path);
    }
    if (isHttp) query.set('method', method);
    for (const h of flags.header ?? []) {
      const eq = h.indexOf('=');
      if (eq <= 0) throw new MeshError('MESH_E_USAGE', `invalid --header "${h}"`, { hint: 'give --header NAME=VALUE' });
      query.append('header', `${h.slice(0, eq)}:${h.slice(eq + 1)}`);
    }
    const { body } = await clientFor(flags).request<{ Allowed: boolean; DecidedBy: string; Precedence: number; L7: boolean; Path?: string }>('GET', `/v1/mesh/intentions/explain?${query}`);
    if (flags.json) return printJson(body);
    const call = `${intentionName(source, destination)}${isHttp ? ` ${method} ${body.Path ?? '/'}` : ''}`;
    process.stdout.write(`${body.Allowed ? 'allow' : 'deny'}: ${call} is ${body.Allowed ? 'allowed' : 'denied'} by ${body.DecidedBy}\n`);
  });
}
