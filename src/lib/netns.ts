// What the demo's hosts (src/demo/hosts.ts) and the test bed
// (test/helpers/testbed.ts) both need to find and sweep network namespaces:
// the names in /run/netns, the processes inside one, and whether the run that
// made a name (its pid in base 36 in the name) is gone.

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

export const NETNS_DIR = '/run/netns';

export function ipSync(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
}

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The creator's pid of a name whose first group is that pid in base 36, or undefined. */
export function creatorOf(name: string, re: RegExp): number | undefined {
  const match = re.exec(name);
  return match ? Number.parseInt(match[1]!, 36) : undefined;
}

/** A name made by another run whose process is gone. */
export function isStale(pid: number | undefined): boolean {
  return pid !== undefined && pid !== process.pid && !alive(pid);
}

export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

/** The processes inside a namespace (never this one). */
export function pidsIn(ns: string): number[] {
  try {
    return ipSync(['netns', 'pids', ns])
      .split('\n')
      .map((line) => Number.parseInt(line, 10))
      .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
  } catch {
    return [];
  }
}
