// The one place that runs iptables. It installs what rules.ts builds with
// `iptables-restore --noflush`, one transaction per table that takes out
// what meshctl added before and puts in the new rules (a script applies
// whole or not at all), so applying is idempotent and never leaves a gap;
// removal deletes only meshctl's tagged rules and MESH_* chains (saved.ts
// decides which). The command runner is injected.

import { existsSync } from 'node:fs';
import { MeshError } from '../lib/errors.ts';
import { buildRefuseIpv6, buildRules, type TransparentConfig } from './rules.ts';
import { meshctlLines, parseSave, replacementScript } from './saved.ts';
import { execaRunner, firstLine, NOT_INSTALLED, type CommandRunner } from './runner.ts';

export type Backend = 'nft' | 'legacy';
export type Family = 4 | 6;

export interface IptablesOptions {
  run?: CommandRunner;
  /** Default process.getuid. */
  getuid?: () => number;
  /** Whether the kernel has IPv6 at all. Default: /proc/net/if_inet6 exists. */
  ipv6Enabled?: () => boolean;
}

export interface ApplyResult {
  readonly backend: Backend;
  readonly ipv4: 'redirect';
  /** 'refuse': ip6tables' nat table is unusable, so meshed IPv6 is refused (buildRefuseIpv6); 'off': the kernel has no IPv6. */
  readonly ipv6: 'redirect' | 'refuse' | 'off';
  /** Why IPv6 is not redirected, when it is not. */
  readonly ipv6Reason?: string;
}

export interface ShownTable {
  readonly family: Family;
  readonly table: string;
  /** meshctl's chain declarations and rules, as iptables-save prints them. */
  readonly lines: readonly string[];
}

const TOOLS = {
  4: { cli: 'iptables', save: 'iptables-save', restore: 'iptables-restore' },
  6: { cli: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore' },
} as const;
const TABLES = ['nat', 'filter'] as const;
/** Seconds to wait for the xtables lock another program holds (istio#29249: never hang). */
const WAIT = ['-w', '5'];
const INSTALL_HINT = 'install it with: apt-get install iptables (dnf install iptables-nft on Fedora/RHEL)';

/** Checks for root and iptables, and which backend `iptables` drives. */
export async function detectBackend(options: IptablesOptions = {}): Promise<Backend> {
  const { run = execaRunner, getuid = process.getuid ?? (() => 0) } = options;
  if (getuid() !== 0) {
    throw new MeshError('MESH_E_NOT_ROOT', 'changing iptables needs root', { hint: 'rerun with sudo; `meshctl iptables plan` shows the rules without root' });
  }
  const result = await run('iptables', ['--version']);
  if (result.exitCode === NOT_INSTALLED) throw new MeshError('MESH_E_IPTABLES', 'iptables is not installed', { hint: INSTALL_HINT });
  if (result.exitCode !== 0) throw new MeshError('MESH_E_IPTABLES', `iptables --version failed: ${firstLine(result.stderr)}`, { hint: INSTALL_HINT });
  if (result.stdout.includes('(nf_tables)')) return 'nft';
  // Before 1.8, iptables had only the legacy backend and said nothing.
  return 'legacy';
}

/**
 * Replaces meshctl's rules with the ones for `config`, for IPv4 and IPv6.
 * Each table is replaced in one iptables-restore transaction (old rules out,
 * new ones in), so re-applying never leaves a moment without redirection.
 */
export async function applyRules(config: TransparentConfig, options: IptablesOptions = {}): Promise<ApplyResult> {
  const { run = execaRunner, ipv6Enabled = () => existsSync('/proc/net/if_inet6') } = options;
  const backend = await detectBackend(options);
  try {
    await replace(run, 4, 'nat', buildRules(config, 4));
    await replace(run, 4, 'filter', undefined);
    const v6 = await applyIpv6(run, config, ipv6Enabled);
    return { backend, ipv4: 'redirect', ...v6 };
  } catch (error) {
    // Half a rule set is worse than none: an app would reach some services
    // around the proxy. Take everything back and report.
    await removeRules(options).catch(() => undefined);
    throw error;
  }
}

async function applyIpv6(run: CommandRunner, config: TransparentConfig, ipv6Enabled: () => boolean): Promise<Pick<ApplyResult, 'ipv6' | 'ipv6Reason'>> {
  const probe = await run(TOOLS[6].cli, [...WAIT, '-t', 'nat', '-S']);
  if (probe.exitCode === NOT_INSTALLED) {
    if (!ipv6Enabled()) return { ipv6: 'off', ipv6Reason: 'the kernel has no IPv6 and ip6tables is not installed' };
    throw new MeshError('MESH_E_IPTABLES', 'IPv6 is on but ip6tables is not installed, so meshed IPv6 traffic could go around the mesh', { hint: INSTALL_HINT });
  }
  let reason = probe.exitCode === 0 ? undefined : `the ip6tables nat table is unusable: ${firstLine(probe.stderr)}`;
  if (reason === undefined) {
    try {
      await replace(run, 6, 'nat', buildRules(config, 6));
      await replace(run, 6, 'filter', undefined);
      return { ipv6: 'redirect' };
    } catch (error) {
      reason = `ip6tables-restore refused the nat rules: ${(error as Error).message.replace(/^.*?refused the rules: /, '')}`;
    }
  }
  // Fail closed: without IPv6 redirection, meshed IPv6 connections are
  // refused rather than let around the proxy.
  await replace(run, 6, 'filter', buildRefuseIpv6(config));
  await replace(run, 6, 'nat', undefined);
  return { ipv6: 'refuse', ipv6Reason: reason };
}

/** Replaces meshctl's rules in one table with `script` (undefined: removes them), in one transaction. */
async function replace(run: CommandRunner, family: Family, table: string, script: string | undefined): Promise<number> {
  const saved = await save(run, family, table);
  const combined = saved === undefined ? script : replacementScript(parseSave(saved, table), script);
  if (combined === undefined) return 0;
  await restore(run, family, combined);
  return combined.split('\n').filter((l) => l.startsWith('-D ') || l.startsWith('-X ')).length;
}

async function restore(run: CommandRunner, family: Family, script: string): Promise<void> {
  const result = await run(TOOLS[family].restore, [...WAIT, '--noflush'], script);
  if (result.exitCode === NOT_INSTALLED) throw new MeshError('MESH_E_IPTABLES', `${TOOLS[family].restore} is not installed`, { hint: INSTALL_HINT });
  if (result.exitCode !== 0) {
    throw new MeshError('MESH_E_IPTABLES', `${TOOLS[family].restore} refused the rules: ${firstLine(result.stderr)}`, {
      hint: 'check the kernel has the nat table and the owner, comment and REDIRECT modules; `meshctl iptables plan` prints the script',
    });
  }
}

/** Removes every rule and chain meshctl added, in both families; what is not meshctl's stays. Idempotent. */
export async function removeRules(options: IptablesOptions = {}): Promise<{ removed: number }> {
  const { run = execaRunner } = options;
  await detectBackend(options);
  let removed = 0;
  for (const family of [4, 6] as const) {
    for (const table of TABLES) removed += await replace(run, family, table, undefined);
  }
  return { removed };
}

/** meshctl's chains and rules as installed, per family and table (tables without any are left out). */
export async function showRules(options: IptablesOptions = {}): Promise<ShownTable[]> {
  const { run = execaRunner } = options;
  await detectBackend(options);
  const shown: ShownTable[] = [];
  for (const family of [4, 6] as const) {
    for (const table of TABLES) {
      const saved = await save(run, family, table);
      const lines = saved === undefined ? [] : meshctlLines(parseSave(saved, table));
      if (lines.length > 0) shown.push({ family, table, lines });
    }
  }
  return shown;
}

/** iptables-save for one table; undefined when that family's tools or table are missing (then nothing of meshctl's can be there). */
async function save(run: CommandRunner, family: Family, table: string): Promise<string | undefined> {
  const result = await run(TOOLS[family].save, ['-t', table]);
  if (result.exitCode === 0) return result.stdout;
  if (family === 6 || result.exitCode === NOT_INSTALLED) return undefined;
  throw new MeshError('MESH_E_IPTABLES', `${TOOLS[family].save} -t ${table} failed: ${firstLine(result.stderr)}`, { hint: INSTALL_HINT });
}
