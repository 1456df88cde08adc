// Installs and removes the agent's supervision: the built-in supervisor,
// started detached, or (where systemd is PID 1) a systemd unit. What was
// installed is recorded in DATA_DIR/install.json so `meshctl leave` removes
// exactly that.

import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MeshError } from '../../lib/errors.ts';
import { writeFileAtomic } from '../config/agent-config.ts';
import { AGENT_PID, SUPERVISOR_PID, livePid, logsDir } from './builtin.ts';
import { makeDirs } from '../../lib/make-dirs.ts';

export interface InstallRecord {
  supervision: 'builtin' | 'systemd' | 'foreground';
  unitName?: string;
  /** Dirs that join created, so leave removes them and nothing it did not make. */
  createdConfigDir: boolean;
  createdDataDir: boolean;
  /** The top-most directories join had to create (parents included). */
  createdRoots?: string[];
  /** Transparent mode: the proxy user join created (leave removes it), if it did. */
  createdProxyUser?: string;
  joinedAt: string;
}

export const installRecordPath = (dataDir: string): string => join(dataDir, 'install.json');

export function readInstallRecord(dataDir: string): InstallRecord | undefined {
  try {
    return JSON.parse(readFileSync(installRecordPath(dataDir), 'utf8')) as InstallRecord;
  } catch {
    return undefined;
  }
}

export function writeInstallRecord(dataDir: string, record: InstallRecord): void {
  writeFileAtomic(installRecordPath(dataDir), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** argv that runs this same meshctl build with the same Node: [node, main.js, ...args]. */
export function selfCommand(args: readonly string[]): string[] {
  const main = process.argv[1];
  if (!main) throw new MeshError('MESH_E_INTERNAL', 'cannot tell which meshctl build is running');
  return [process.execPath, main, ...args];
}

export function builtinSupervisorPid(dataDir: string): number | undefined {
  return livePid(dataDir, SUPERVISOR_PID);
}

export function agentPid(dataDir: string): number | undefined {
  return livePid(dataDir, AGENT_PID);
}

/** Starts the built-in supervisor detached from this process; resolves once its pid file is there. */
export async function startBuiltinSupervisor(configDir: string, dataDir: string): Promise<number> {
  makeDirs(logsDir(dataDir), 0o700);
  const out = openSync(join(logsDir(dataDir), 'supervisor.log'), 'a', 0o600);
  const [command, ...args] = selfCommand(['supervise', '--config-dir', configDir, '--data-dir', dataDir]) as [string, ...string[]];
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  closeSync(out);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const pid = builtinSupervisorPid(dataDir);
    if (pid) return pid;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new MeshError('MESH_E_INTERNAL', `the supervisor did not start (see ${join(logsDir(dataDir), 'supervisor.log')})`, { hint: 'check that log, then run meshctl join again' });
}

/** Stops the built-in supervisor (and with it the agent); resolves once both are gone. */
export async function stopBuiltinSupervisor(dataDir: string): Promise<boolean> {
  const pid = builtinSupervisorPid(dataDir);
  const agent = agentPid(dataDir);
  if (!pid && !agent) return false;
  if (pid) process.kill(pid, 'SIGTERM');
  else if (agent) process.kill(agent, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!alive(pid) && !alive(agent)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const p of [pid, agent]) if (alive(p)) process.kill(p as number, 'SIGKILL');
  return true;
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    // A zombie is gone for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export function reloadBuiltinSupervisor(dataDir: string): boolean {
  const pid = builtinSupervisorPid(dataDir);
  if (!pid) return false;
  process.kill(pid, 'SIGHUP');
  return true;
}

/** The top-most ancestor of path that does not exist yet (what mkdir -p would create first). */
export function firstMissingAncestor(path: string): string | undefined {
  if (existsSync(path)) return undefined;
  let current = path;
  for (;;) {
    const parent = dirname(current);
    if (parent === current || existsSync(parent)) return current;
    current = parent;
  }
}

export function removeDirIfOurs(path: string, created: boolean): boolean {
  if (!created || !existsSync(path)) return false;
  rmSync(path, { recursive: true, force: true });
  return true;
}
