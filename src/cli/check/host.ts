// The host checks before a join: the Node.js runtime, and whether iptables
// can carry transparent mode. iptables problems are warnings unless
// transparent mode is meant (join --transparent, or an agent that has it),
// and reading the tables needs root, so without root it can only warn.

import { firstLine, NOT_INSTALLED, type CommandRunner } from '../../iptables/runner.ts';
import { failed, passed, warned, type Verdict } from './result.ts';

export const NODE_MAJOR = 24;

export function evaluateNodeVersion(version: string): Verdict {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? Number.NaN);
  if (major >= NODE_MAJOR) return passed(`Node.js ${version}`);
  return failed(`Node.js ${version}: meshctl needs ${NODE_MAJOR} or later`, 'run meshctl through bin/meshctl, which uses the Node.js 24 installed with it (not the system node)');
}

export interface IptablesCheckDeps {
  readonly run: CommandRunner;
  readonly getuid: () => number;
  /** Transparent mode is meant: problems fail instead of warning. */
  readonly transparent: boolean;
}

const INSTALL_HINT = 'install iptables (apt-get install iptables; dnf install iptables-nft on Fedora/RHEL)';

export async function checkIptables(deps: IptablesCheckDeps): Promise<Verdict> {
  const problem = deps.transparent ? failed : warned;
  const unlessTransparent = deps.transparent ? '' : ' (needed only for join --transparent)';
  const version = await deps.run('iptables', ['--version']);
  if (version.exitCode === NOT_INSTALLED) return problem(`iptables is not installed${unlessTransparent}`, INSTALL_HINT);
  if (version.exitCode !== 0) return problem(`iptables --version failed: ${firstLine(version.stderr)}${unlessTransparent}`, INSTALL_HINT);
  // Before 1.8, iptables had only the legacy backend and said nothing.
  const backend = version.stdout.includes('(nf_tables)') ? 'nft' : 'legacy';
  const found = `${firstLine(version.stdout)}, ${backend} backend`;
  if (deps.getuid() !== 0) return warned(`${found}; the tables can be read only by root`, 'run meshctl check with sudo to check that iptables-save works');
  const save = await deps.run('iptables-save', ['-t', 'nat']);
  if (save.exitCode !== 0) {
    return problem(`${found}; iptables-save -t nat failed: ${firstLine(save.stderr)}${unlessTransparent}`, 'the kernel needs the nat table (modprobe iptable_nat, or nf_tables with the nat expressions); `meshctl iptables plan` shows the rules');
  }
  return passed(`${found}; iptables-save works`);
}
