// `meshctl config set|get|list|delete KIND NAME`: the mesh configuration
// entries. A kind is one row of KINDS, the kind object its schema file
// exports (how to check, set and fill an entry); the API path follows from
// its name. Entries are validated here, before anything is sent, and again
// by the server.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { describeFieldErrors, type Checked, type FieldError, type SettingKey } from '../config/kind.ts';
import { intentionsKind } from '../config/intentions.ts';
import { meshKind } from '../config/mesh.ts';
import { serviceDefaultsKind } from '../config/service-defaults.ts';
import { resolverKind, routerKind } from '../config/routes.ts';
import { MeshError } from '../lib/errors.ts';
import type { ApiClient } from './api-client.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';

interface Kind {
  readonly kind: string;
  readonly nameRule: RegExp;
  readonly nameHelp: string;
  check(input: unknown): Checked<unknown>;
  applySetters(current: object, assignments: readonly string[]): Record<string, unknown>;
  withDefaults(stored: object | undefined): object;
  readonly keys: readonly SettingKey[];
  /** A kind with one entry: its name may be left out (config set mesh default_policy=deny). */
  readonly singleName?: string;
}

/** One line per kind. */
const KINDS: readonly Kind[] = [serviceDefaultsKind, intentionsKind, meshKind, routerKind, resolverKind];

interface Entry {
  Kind: string;
  Name: string;
  Config: Record<string, unknown>;
  CreateIndex: number;
  ModifyIndex: number;
}

const apiPath = (kind: Kind, name?: string) => `/v1/mesh/config/${kind.kind}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

function kindOf(name: string): Kind {
  const kind = KINDS.find((k) => k.kind === name);
  if (!kind) throw new MeshError('MESH_E_USAGE', `unknown config kind "${name}"`, { hint: `the kinds are: ${KINDS.map((k) => k.kind).join(', ')}` });
  return kind;
}

/** The entry name given, or the one entry's name for a single-entry kind. */
function nameFor(kind: Kind, name: string | undefined): string {
  if (name === undefined && kind.singleName) return kind.singleName;
  if (name === undefined) throw new MeshError('MESH_E_USAGE', `missing the ${kind.kind} entry name`, { hint: `give ${kind.nameHelp}` });
  checkName(kind, name);
  return name;
}

function checkName(kind: Kind, name: string): void {
  if (!kind.nameRule.test(name)) throw new MeshError('MESH_E_USAGE', `invalid ${kind.kind} name "${name}"`, { hint: `give ${kind.nameHelp}` });
}

const invalid = (kind: Kind, name: string, errors: readonly FieldError[]) =>
  new MeshError('MESH_E_USAGE', `invalid ${kind.kind} for ${name}: ${describeFieldErrors(errors)}`, { hint: `see meshctl config set --help for the keys and values; nothing was written` });

async function getEntry(client: ApiClient, kind: Kind, name: string): Promise<Entry | undefined> {
  try {
    return (await client.request<Entry>('GET', apiPath(kind, name))).body;
  } catch (error) {
    if (error instanceof MeshError && error.code === 'MESH_E_NOT_FOUND') return undefined;
    throw error;
  }
}

/** The API client reports a 409 (a lost check-and-set) as an internal error; its message keeps the status. */
const lostCas = (error: unknown) => error instanceof MeshError && /^the server answered 409\b/.test(error.message);

/** Read, apply the settings, check, write back with check-and-set: edits of other keys made meanwhile are kept. */
async function setMerged(client: ApiClient, kind: Kind, name: string, settings: readonly string[]): Promise<Entry> {
  for (let attempt = 1; ; attempt++) {
    const current = await getEntry(client, kind, name);
    const checked = kind.check(kind.applySetters(current?.Config ?? {}, settings));
    if (!checked.ok) throw invalid(kind, name, checked.errors);
    try {
      return (await client.request<Entry>('PUT', `${apiPath(kind, name)}?cas=${current?.ModifyIndex ?? 0}`, checked.value)).body;
    } catch (error) {
      if (!lostCas(error)) throw error;
      // Someone else wrote it between our read and write: once more on top of theirs.
      if (attempt >= 2) throw new MeshError('MESH_E_CONFLICT', `${kind.kind} ${name} kept changing while this set was applied; nothing was written`, { hint: 'run the command again' });
    }
  }
}

function readEntryFile(kind: Kind, file: string): unknown {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new MeshError('MESH_E_USAGE', `cannot read ${file}: ${(error as Error).message.split('\n')[0]}`, { hint: 'give a YAML or JSON file with the settings' });
  }
  if (value === undefined || value === null) throw new MeshError('MESH_E_USAGE', `${file} is empty`, { hint: 'give the settings; {} sets every one to its default' });
  // What `config get --json` prints ({Kind, Name, Config, ...}) is taken as is, so an entry can be saved, edited and set again.
  if (typeof value === 'object' && !Array.isArray(value) && 'Config' in value && 'Kind' in value) {
    if (value.Kind !== kind.kind) throw new MeshError('MESH_E_USAGE', `${file} holds a ${String(value.Kind)} entry, not ${kind.kind}`, { hint: `use meshctl config set ${String(value.Kind)} ...` });
    return value.Config;
  }
  return value;
}

/** key → value text, in the key=value form `set` takes. */
function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (Array.isArray(value)) return [[prefix, value.some((v) => v !== null && typeof v === 'object') ? JSON.stringify(value) : value.join(',')]];
  if (value === null || typeof value !== 'object') return [[prefix, String(value)]];
  return Object.entries(value).flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}.${key}` : key));
}

function keysHelp(kind: Kind): string {
  if (kind.keys.length === 0) return `\n${kind.kind}: no key=value settings; give the entry with -f FILE${kind.kind === 'service-intentions' ? ' (or use meshctl intention)' : ''}`;
  const text = (v: unknown) => (v === undefined || (Array.isArray(v) && v.length === 0) ? '-' : Array.isArray(v) ? v.join(',') : String(v));
  const width = Math.max(...kind.keys.map((k) => k.path.length));
  const lines = kind.keys.map((k) => `  ${k.path.padEnd(width)}  ${text(k.defaultValue)}${k.values ? `  (${k.values.join('|')})` : ''}`);
  return `\n${kind.kind} keys and defaults:\n${lines.join('\n')}`;
}

export function addConfigCommands(program: Command): void {
  const kindNames = KINDS.map((k) => k.kind).join(', ');
  const config = program
    .command('config')
    .description(`set, get, list and delete mesh configuration entries (kinds: ${kindNames})`)
    .addHelpText('after', '\nExamples:\n  meshctl config set service-defaults web protocol=http load_balancer.policy=round_robin\n  meshctl config get service-defaults web --resolved\n  meshctl config list\n  meshctl config delete service-defaults web');

  withTarget(
    config
      .command('set')
      .description('merge key=value settings into an entry (check-and-set), or replace it with -f FILE (YAML or JSON)')
      .argument('<kind>', kindNames)
      .argument('<name>', 'the entry name (for service-defaults, the service; for service-intentions, the destination; for mesh, may be left out)')
      .argument('[settings...]', 'key=value; dotted keys, a,b for lists, key= to go back to the default')
      .option('-f, --file <file>', 'the whole entry, in YAML or JSON (replaces it)')
      .addHelpText(
        'after',
        `${KINDS.map(keysHelp).join('\n')}

Durations are Go's (250ms, 5s, 1h30m). Everything is checked before anything is written;
a bad value exits 2 naming the key and the value.

Examples:
  meshctl config set service-defaults web protocol=http retries.num_retries=3 retries.per_try_timeout=500ms
  meshctl config set service-defaults web load_balancer.policy=ring_hash load_balancer.hash_on.header=x-user
  meshctl config set service-defaults web retries.retry_on=5xx,reset retries.per_try_timeout=
  meshctl config set service-defaults web -f web.yaml
  meshctl config set mesh default_policy=allow
  meshctl config set mesh tracing.otlp_endpoint=http://collector:4318/v1/traces tracing.sampling=0.01`,
      ),
  ).action(async (kindName: string, nameOrSetting: string, rest: string[], flags: TargetFlags & { file?: string }) => {
    const kind = kindOf(kindName);
    const single = kind.singleName !== undefined && nameOrSetting !== kind.singleName && nameOrSetting.includes('=');
    const name = single ? (kind.singleName as string) : nameOrSetting;
    const settings = single ? [nameOrSetting, ...rest] : rest;
    checkName(kind, name);
    if (flags.file && settings.length > 0) throw new MeshError('MESH_E_USAGE', 'give key=value settings or -f FILE, not both', { hint: '-f replaces the whole entry; settings merge into it' });
    if (!flags.file && settings.length === 0) throw new MeshError('MESH_E_USAGE', 'nothing to set', { hint: 'give key=value settings or -f FILE' });
    let stored: Entry;
    if (flags.file) {
      const checked = kind.check(readEntryFile(kind, flags.file));
      if (!checked.ok) throw invalid(kind, name, checked.errors);
      stored = (await clientFor(flags).request<Entry>('PUT', apiPath(kind, name), checked.value)).body;
    } else {
      kind.applySetters({}, settings); // unknown keys and malformed settings fail here, before any request
      stored = await setMerged(clientFor(flags), kind, name, settings);
    }
    process.stdout.write(`set ${kind.kind} ${name} (index ${stored.ModifyIndex})\n`);
  });

  withTarget(
    config
      .command('get')
      .description('show an entry as stored, or with --resolved every setting with its default filled in')
      .argument('<kind>', kindNames)
      .argument('[name]', 'the entry name (may be left out for mesh)')
      .option('--resolved', 'every setting, defaults included (also for a name without an entry)')
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExamples:\n  meshctl config get service-defaults web\n  meshctl config get service-defaults web --resolved\n  meshctl config get service-defaults web --json > web.json   # edit, then: config set service-defaults web -f web.json'),
  ).action(async (kindName: string, nameArg: string | undefined, flags: TargetFlags & { json?: boolean; resolved?: boolean }) => {
    const kind = kindOf(kindName);
    const name = nameFor(kind, nameArg);
    const entry = await getEntry(clientFor(flags), kind, name);
    if (!entry && !flags.resolved) {
      throw new MeshError('MESH_E_NOT_FOUND', `no ${kind.kind} entry for ${name}`, { hint: `meshctl config list shows the entries; --resolved shows what ${name} gets without one` });
    }
    if (!flags.resolved) {
      if (flags.json) return printJson(entry);
      process.stdout.write(`${kind.kind} ${name} (index ${entry!.ModifyIndex})\n`);
      const rows = flatten(entry!.Config).filter(([key]) => key !== '');
      if (rows.length === 0) return void process.stdout.write('no settings: every one is its default\n');
      return printTable(['KEY', 'VALUE'], rows);
    }
    const resolved = kind.withDefaults(entry?.Config);
    if (flags.json) return printJson({ ...(entry ?? { Kind: kind.kind, Name: name, Config: null }), Resolved: resolved });
    process.stdout.write(entry ? `${kind.kind} ${name} (index ${entry.ModifyIndex}), with defaults\n` : `${kind.kind} ${name}: no entry, every setting is its default\n`);
    const set = new Set(flatten(entry?.Config ?? {}).map(([key]) => key));
    const values = new Map(flatten(resolved));
    printTable(['KEY', 'VALUE', 'FROM'], kind.keys.map((k) => [k.path, values.get(k.path) || '-', set.has(k.path) ? 'set' : 'default']));
  });

  withTarget(
    config
      .command('list')
      .description('list entries, of one kind or of all')
      .argument('[kind]', `one kind: ${kindNames} (default: all)`)
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExamples:\n  meshctl config list\n  meshctl config list service-defaults --json'),
  ).action(async (kindName: string | undefined, flags: TargetFlags & { json?: boolean }) => {
    const kinds = kindName === undefined ? KINDS : [kindOf(kindName)];
    const client = clientFor(flags);
    const entries: Entry[] = [];
    for (const kind of kinds) entries.push(...(await client.request<Entry[]>('GET', apiPath(kind))).body);
    if (flags.json) return printJson(entries);
    printTable(
      ['KIND', 'NAME', 'INDEX', 'SETTINGS'],
      entries.map((e) => [e.Kind, e.Name, String(e.ModifyIndex), flatten(e.Config).filter(([key]) => key !== '').map(([k, v]) => `${k}=${v}`).join(' ') || '(all defaults)']),
    );
  });

  withTarget(
    config
      .command('delete')
      .description('delete an entry (the name goes back to the defaults)')
      .argument('<kind>', kindNames)
      .argument('[name]', 'the entry name (may be left out for mesh)')
      .addHelpText('after', '\nExamples:\n  meshctl config delete service-defaults web\n  meshctl config delete mesh   # back to default_policy=deny'),
  ).action(async (kindName: string, nameArg: string | undefined, flags: TargetFlags) => {
    const kind = kindOf(kindName);
    const name = nameFor(kind, nameArg);
    const { body } = await clientFor(flags).request<boolean>('DELETE', apiPath(kind, name));
    process.stdout.write(body ? `deleted ${kind.kind} ${name}\n` : `no ${kind.kind} entry for ${name}; nothing to delete\n`);
  });
}
