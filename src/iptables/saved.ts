// Reading iptables-save output (pure): which chains and rules are meshctl's,
// and the restore script that deletes exactly those. A rule is meshctl's when
// it carries a `meshctl:` comment; a chain is meshctl's when its name starts
// with MESH_ and every rule in it is meshctl's (an empty one only when it is
// a chain meshctl creates). Nothing else is ever touched.

import { COMMENT_PREFIX, MESH_CHAINS } from './rules.ts';

export interface SavedTable {
  readonly table: string;
  /** Chain name → policy ('-' for user-defined chains). */
  readonly chains: ReadonlyMap<string, string>;
  /** `-A CHAIN ...` lines, as saved. */
  readonly rules: readonly { chain: string; line: string }[];
}

const TAG = new RegExp(`-m comment --comment (?:"${COMMENT_PREFIX}[^"]*"|${COMMENT_PREFIX}\\S+)`);
const KNOWN_CHAINS: ReadonlySet<string> = new Set([...MESH_CHAINS.nat, ...MESH_CHAINS.filter]);

export const isMeshctlRule = (line: string): boolean => TAG.test(line);

/** Parses `iptables-save -t TABLE` output (one table; other tables are ignored). */
export function parseSave(text: string, table: string): SavedTable {
  const chains = new Map<string, string>();
  const rules: { chain: string; line: string }[] = [];
  let current: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) current = line.slice(1);
    else if (current !== table) continue;
    else if (line.startsWith(':')) {
      const [name = '', policy = '-'] = line.slice(1).split(' ');
      chains.set(name, policy);
    } else if (line.startsWith('-A ')) rules.push({ chain: line.split(' ')[1] ?? '', line });
  }
  return { table, chains, rules };
}

export function meshctlChains(saved: SavedTable): string[] {
  return [...saved.chains.entries()]
    .filter(([name, policy]) => policy === '-' && name.startsWith('MESH_'))
    .filter(([name]) => {
      const own = saved.rules.filter((r) => r.chain === name);
      return own.length === 0 ? KNOWN_CHAINS.has(name) : own.every((r) => isMeshctlRule(r.line));
    })
    .map(([name]) => name);
}

/** Built-in chains have a policy (ACCEPT, DROP); user-defined ones print `-`. */
const isBuiltIn = (saved: SavedTable, chain: string): boolean => (saved.chains.get(chain) ?? '-') !== '-';

/** What meshctl has in this table: its chains' declarations and rules, and its tagged rules in the built-in chains
 * (what removal would take). */
export function meshctlLines(saved: SavedTable): string[] {
  const chains = new Set(meshctlChains(saved));
  const ours = (r: { chain: string; line: string }) => chains.has(r.chain) || (isBuiltIn(saved, r.chain) && isMeshctlRule(r.line));
  return [...[...chains].map((c) => `:${c} - [0:0]`), ...saved.rules.filter(ours).map((r) => r.line)];
}

/**
 * The `--noflush` restore script that replaces meshctl's rules in this table
 * with `next` (a script from rules.ts for the same table; undefined: none),
 * in one transaction, so there is no moment without rules while they are
 * replaced: meshctl's rules leave the built-in chains, its chains are
 * declared again (which empties those that exist), the chains `next` no
 * longer uses are flushed (all before any is deleted, as they jump to one
 * another) and deleted, then `next`'s rules go in. Undefined when there is
 * nothing to do.
 */
export function replacementScript(saved: SavedTable, next?: string): string | undefined {
  const nextLines = next === undefined ? [] : next.split('\n').filter((l) => l !== '' && !l.startsWith('*') && l !== 'COMMIT');
  const declared = new Set(nextLines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]));
  const stale = meshctlChains(saved).filter((c) => !declared.has(c));
  const deletes = saved.rules.filter((r) => isBuiltIn(saved, r.chain) && isMeshctlRule(r.line)).map((r) => `-D${r.line.slice(2)}`);
  if (deletes.length === 0 && stale.length === 0 && nextLines.length === 0) return undefined;
  const declarations = nextLines.filter((l) => l.startsWith(':'));
  const rules = nextLines.filter((l) => !l.startsWith(':'));
  return [`*${saved.table}`, ...deletes, ...declarations, ...stale.map((c) => `-F ${c}`), ...stale.map((c) => `-X ${c}`), ...rules, 'COMMIT', ''].join('\n');
}

/** The script that removes meshctl's rules and chains from this table; undefined when there are none. */
export function removalScript(saved: SavedTable): string | undefined {
  return replacementScript(saved, undefined);
}
