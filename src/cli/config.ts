// `meshctl config set|get|list|delete KIND NAME`: the mesh configuration.
// Kinds live in one table; a kind is its schema and its API path.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { describeZodIssues } from '../config/describe.ts';
import { serviceDefaultsSchema } from '../config/service-defaults.ts';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';

interface Kind {
  schema: z.ZodType;
  path: string;
}

const KINDS: Record<string, Kind> = {
  'service-defaults': { schema: serviceDefaultsSchema, path: '/v1/mesh/config/service-defaults' },
};

function kindOf(name: string): Kind {
  const kind = KINDS[name];
  if (!kind) throw new MeshError('MESH_E_USAGE', `unknown config kind "${name}"`, { hint: `use one of: ${Object.keys(KINDS).join(', ')}` });
  return kind;
}

/** key=value with dotted paths; values are JSON when they parse (numbers, booleans, lists), else strings; a,b makes a list. */
export function applySetters(current: Record<string, unknown>, assignments: readonly string[]): Record<string, unknown> {
  const out = structuredClone(current);
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new MeshError('MESH_E_USAGE', `"${assignment}" is not key=value`, { hint: 'for example protocol=http or retries.num_retries=3' });
    const path = assignment.slice(0, eq).split('.');
    const text = assignment.slice(eq + 1);
    let value: unknown;
    if (/^(true|false|-?\d+(\.\d+)?)$/.test(text)) value = JSON.parse(text);
    else if (text.startsWith('[')) value = JSON.parse(text);
    else if (text.includes(',')) value = text.split(',').map((item) => (/^-?\d+$/.test(item) ? Number(item) : item));
    else value = text;
    if (/(^|\.)(retry_on|retriable_status_codes)$/.test(path.join('.')) && !Array.isArray(value)) value = [value];
    let node = out;
    for (const part of path.slice(0, -1)) {
      if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  }
  return out;
}

function validate(kind: Kind, kindName: string, name: string, value: unknown): void {
  const parsed = kind.schema.safeParse(value);
  if (!parsed.success) throw new MeshError('MESH_E_USAGE', `invalid ${kindName} for ${name}: ${describeZodIssues(parsed.error)}`, { hint: `see meshctl config set --help` });
}

export function addConfigCommands(program: Command): void {
  const config = program
    .command('config')
    .description('set, get, list and delete mesh configuration (service-defaults)')
    .addHelpText('after', '\nExamples:\n  meshctl config set service-defaults web protocol=http load_balancer.policy=round_robin\n  meshctl config get service-defaults web --json\n  meshctl config list\n  meshctl config delete service-defaults web');

  withTarget(
    config
      .command('set')
      .description('merge key=value settings into an entry, or replace it with -f FILE (YAML or JSON)')
      .argument('<kind>')
      .argument('<name>')
      .argument('[settings...]')
      .option('-f, --file <file>', 'the whole entry, in YAML or JSON')
      .addHelpText(
        'after',
        `
service-defaults keys (defaults in brackets): protocol [tcp] (tcp|http|http2|grpc),
load_balancer.policy [p2c_ewma], load_balancer.hash_on.header, timeouts.connect [5s],
timeouts.request [15s], timeouts.idle [1h], retries.num_retries [2],
retries.per_try_timeout, retries.retry_on [connect-failure,refused-stream,reset,gateway-error],
retries.retriable_status_codes, retries.budget.retry_ratio [0.2],
retries.budget.min_retries_per_second [10], circuit_breaker.max_connections|max_pending_requests|max_requests [1024],
outlier_detection.consecutive_errors [5], outlier_detection.base_ejection_time [30s],
outlier_detection.max_ejection_percent [10], mtls_mode [strict].

Examples:
  meshctl config set service-defaults web protocol=http retries.num_retries=3 retries.per_try_timeout=500ms
  meshctl config set service-defaults web -f web.yaml`,
      ),
  ).action(async (kindName: string, name: string, settings: string[], flags: TargetFlags & { file?: string }) => {
    const kind = kindOf(kindName);
    if (flags.file && settings.length > 0) throw new MeshError('MESH_E_USAGE', 'give key=value settings or -f FILE, not both', { hint: 'use one of them' });
    if (!flags.file && settings.length === 0) throw new MeshError('MESH_E_USAGE', 'nothing to set', { hint: 'give key=value settings or -f FILE' });
    const client = clientFor(flags);
    if (flags.file) {
      let value: unknown;
      try {
        value = parseYaml(readFileSync(flags.file, 'utf8'));
      } catch (error) {
        throw new MeshError('MESH_E_USAGE', `cannot read ${flags.file}: ${(error as Error).message.split('\n')[0]}`, { hint: 'give a YAML or JSON file' });
      }
      validate(kind, kindName, name, value);
      await client.request('PUT', `${kind.path}/${encodeURIComponent(name)}`, value);
    } else {
      // Read-modify-write with check-and-set, so two operators' edits of different keys both survive.
      for (let attempt = 1; ; attempt++) {
        let current: { Config: Record<string, unknown>; ModifyIndex: number } | undefined;
        try {
          current = (await client.request<{ Config: Record<string, unknown>; ModifyIndex: number }>('GET', `${kind.path}/${encodeURIComponent(name)}`)).body;
        } catch (error) {
          if (!(error instanceof MeshError && error.code === 'MESH_E_NOT_FOUND')) throw error;
        }
        const next = applySetters(current?.Config ?? {}, settings);
        validate(kind, kindName, name, next);
        try {
          await client.request('PUT', `${kind.path}/${encodeURIComponent(name)}?cas=${current?.ModifyIndex ?? 0}`, next);
          break;
        } catch (error) {
          if (attempt >= 5 || !(error instanceof MeshError && /changed since/.test(error.message))) throw error;
        }
      }
    }
    process.stdout.write(`set ${kindName} ${name}\n`);
  });

  withTarget(config.command('get').description('show an entry').argument('<kind>').argument('<name>').option('--json', 'print JSON').addHelpText('after', '\nExamples:\n  meshctl config get service-defaults web\n  meshctl config get service-defaults web --json')).action(
    async (kindName: string, name: string, flags: TargetFlags & { json?: boolean }) => {
      const { body } = await clientFor(flags).request<{ Config: unknown; ModifyIndex: number }>('GET', `${kindOf(kindName).path}/${encodeURIComponent(name)}`);
      if (flags.json) return printJson(body);
      process.stdout.write(`${kindName} ${name} (index ${body.ModifyIndex})\n${JSON.stringify(body.Config, null, 2)}\n`);
    },
  );

  withTarget(config.command('list').description('list entries').argument('[kind]', 'one kind (default: all)').option('--json', 'print JSON').addHelpText('after', '\nExamples:\n  meshctl config list\n  meshctl config list service-defaults --json')).action(
    async (kindName: string | undefined, flags: TargetFlags & { json?: boolean }) => {
      const kinds = kindName ? [kindName] : Object.keys(KINDS);
      const rows: Array<{ Kind: string; Name: string; ModifyIndex: number; Config: unknown }> = [];
      for (const k of kinds) rows.push(...(await clientFor(flags).request<typeof rows>('GET', kindOf(k).path)).body);
      if (flags.json) return printJson(rows);
      printTable(['KIND', 'NAME', 'INDEX', 'SETTINGS'], rows.map((r) => [r.Kind, r.Name, String(r.ModifyIndex), JSON.stringify(r.Config)]));
    },
  );

  withTarget(config.command('delete').description('delete an entry').argument('<kind>').argument('<name>').addHelpText('after', '\nExamples:\n  meshctl config delete service-defaults web')).action(
    async (kindName: string, name: string, flags: TargetFlags) => {
      const { body } = await clientFor(flags).request<boolean>('DELETE', `${kindOf(kindName).path}/${encodeURIComponent(name)}`);
      process.stdout.write(body ? `deleted ${kindName} ${name}\n` : `no ${kindName} ${name} to delete\n`);
    },
  );
}
