// `meshctl route apply -f FILE`: route sets and subsets for several
// services from one YAML or JSON file. Every entry is checked against its
// schema before anything is sent (exit 2, every problem at once); the server
// then checks the subsets and services named and stores all or nothing.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { describeFieldErrors } from '../config/kind.ts';
import { checkResolver, checkRouter, RESOLVER_KIND, ROUTER_KIND, routerKind } from '../config/routes.ts';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';

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

export function addRouteApplyCommand(route: Command): void {
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

}
