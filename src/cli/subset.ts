// `meshctl subset set|list|delete`: named groups of a service's instances,
// picked by tags and meta, that routes send to. A service's subsets are one
// service-resolver entry, edited with check-and-set (route-entries.ts). The
// server refuses to drop a subset a route still sends to.

import type { Command } from 'commander';
import { checkResolver, RESOLVER_KIND, type StoredResolver, type StoredSubset } from '../config/routes.ts';
import { withoutSubset, withSubset } from '../config/route-edit.ts';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';
import { checkDestination, editResolver, entryPath, getResolver, type Entry } from './route-entries.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const describeFilter = (s: StoredSubset) => [...(s.Filter.Tags ?? []).map((t) => `tag ${t}`), ...Object.entries(s.Filter.Meta ?? {}).map(([k, v]) => `meta ${k}=${v}`)].join(', ');

/** The subset the flags describe, checked; a problem names its flag and value. */
export function subsetFromFlags(name: string, flags: { tag?: string[]; meta?: string[] }): StoredSubset {
  const meta: Record<string, string> = {};
  for (const m of flags.meta ?? []) {
    const eq = m.indexOf('=');
    if (eq <= 0) throw new MeshError('MESH_E_USAGE', `invalid --meta ${JSON.stringify(m)}: expected KEY=VALUE`, { hint: 'give --meta version=v2; nothing was stored' });
    meta[m.slice(0, eq)] = m.slice(eq + 1);
  }
  const subset: StoredSubset = { Filter: { ...(flags.tag?.length ? { Tags: [...new Set(flags.tag)] } : {}), ...(Object.keys(meta).length ? { Meta: meta } : {}) } };
  const checked = checkResolver({ Subsets: { [name]: subset } });
  if (!checked.ok) {
    const text = checked.errors.map((e) => {
      const flag = /\.Tags/.test(e.path) ? `--tag ${JSON.stringify(flags.tag ?? [])}: ` : /\.Meta/.test(e.path) ? `--meta ${JSON.stringify(flags.meta ?? [])}: ` : /Filter$/.test(e.path) ? '' : `NAME ${JSON.stringify(name)}: `;
      return `${flag}${e.message}`;
    });
    throw new MeshError('MESH_E_USAGE', `invalid subset ${name}: ${text.join('; ')}`, { hint: 'give --tag TAG and/or --meta KEY=VALUE, e.g. --meta version=v2; nothing was stored' });
  }
  return checked.value.Subsets[name] as StoredSubset;
}

export function addSubsetCommands(program: Command): void {
  const subset = program
    .command('subset')
    .description('name groups of a service\'s instances by tags and meta, for routes to send to')
    .addHelpText('after', '\nAn instance is in a subset when it has every tag and every meta value given.\n\nExamples:\n  meshctl subset set api v2 --meta version=v2\n  meshctl subset set api blue --tag blue\n  meshctl subset list api\n  meshctl subset delete api v2');

  withTarget(
    subset
      .command('set')
      .description('define (or redefine) subset NAME of service DEST')
      .argument('<dest>')
      .argument('<name>')
      .option('--tag <tag>', 'instances with this tag (repeat: all of them); the tag is matched as written, so --tag version=v2 wants that literal tag', collect)
      .option('--meta <k=v>', 'instances with this meta value (repeat: all of them)', collect)
      .addHelpText('after', '\nExamples:\n  meshctl subset set api v2 --meta version=v2\n  meshctl subset set api canary --tag canary --meta zone=eu'),
  ).action(async (dest: string, name: string, flags: TargetFlags & { tag?: string[]; meta?: string[] }) => {
    checkDestination(dest);
    const spec = subsetFromFlags(name, flags);
    await editResolver(clientFor(flags), dest, (current) => withSubset(current, name, spec));
    process.stdout.write(`subset ${dest}:${name}: ${describeFilter(spec)}\n`);
  });

  withTarget(subset.command('list').description('the subsets of DEST, or of every service').argument('[dest]').option('--json', 'print the entries as JSON')).action(async (dest: string | undefined, flags: TargetFlags & { json?: boolean }) => {
    if (dest !== undefined) checkDestination(dest);
    const client = clientFor(flags);
    const entries = dest === undefined ? (await client.request<Entry<StoredResolver>[]>('GET', entryPath(RESOLVER_KIND))).body : [await getResolver(client, dest)].filter((e): e is Entry<StoredResolver> => e !== undefined);
    if (flags.json) return printJson(entries);
    const rows = entries.flatMap((e) => Object.entries(e.Config.Subsets).map(([name, s]) => [e.Name, name, describeFilter(s)]));
    if (rows.length === 0) return void process.stdout.write(dest ? `${dest} has no subsets\n` : 'no subsets\n');
    printTable(['SERVICE', 'SUBSET', 'FILTER'], rows);
  });

  withTarget(subset.command('delete').description('delete subset NAME of DEST (refused while a route sends to it)').argument('<dest>').argument('<name>')).action(async (dest: string, name: string, flags: TargetFlags) => {
    checkDestination(dest);
    const removed = await editResolver(clientFor(flags), dest, (current) => {
      const result = withoutSubset(current, name);
      return result.removed ? result.config : undefined;
    });
    process.stdout.write(removed ? `deleted subset ${dest}:${name}\n` : `no subset ${dest}:${name}; nothing to delete\n`);
  });
}
