// The dedicated system user the agent and its proxy run as. The iptables
// rules let this uid's traffic through untouched (it is the proxy's own), so
// no application may run as it.

import { MeshError } from '../lib/errors.ts';
import { DEFAULT_PROXY_USER } from './config.ts';
import { execaRunner, firstLine, NOT_INSTALLED, type CommandRunner } from './runner.ts';

export interface ProxyUser {
  readonly uid: number;
  readonly gid: number;
  /** True when this call made the user; the caller keeps that, to remove it later. */
  readonly created: boolean;
}

const NAME_RULE = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The user's uid and gid, or undefined when there is no such user. */
export async function lookupUser(name: string, run: CommandRunner = execaRunner): Promise<{ uid: number; gid: number } | undefined> {
  checkName(name);
  const result = await run('getent', ['passwd', name]);
  if (result.exitCode === 2) return undefined;
  if (result.exitCode !== 0) throw new MeshError('MESH_E_INTERNAL', `getent passwd ${name} failed: ${firstLine(result.stderr)}`);
  const fields = result.stdout.trim().split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Reuses the user when it exists, else creates it as a system user without a home or a login shell. */
export async function ensureProxyUser(name: string = DEFAULT_PROXY_USER, run: CommandRunner = execaRunner): Promise<ProxyUser> {
  const existing = await lookupUser(name, run);
  if (existing) return { ...existing, created: false };
  const result = await run('useradd', ['--system', '--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name]);
  if (result.exitCode === NOT_INSTALLED) throw new MeshError('MESH_E_INTERNAL', 'useradd is not installed', { hint: 'install it with: apt-get install passwd' });
  if (result.exitCode !== 0) {
    throw new MeshError(result.exitCode === 1 ? 'MESH_E_NOT_ROOT' : 'MESH_E_INTERNAL', `useradd ${name} failed: ${firstLine(result.stderr)}`, { hint: 'rerun as root, or give an existing user with --proxy-user' });
  }
  const made = await lookupUser(name, run);
  if (!made) throw new MeshError('MESH_E_INTERNAL', `useradd ${name} succeeded but the user cannot be found`);
  return { ...made, created: true };
}

/** Deletes the user. Call it only for a user ensureProxyUser created (created: true). */
export async function removeProxyUser(name: string = DEFAULT_PROXY_USER, run: CommandRunner = execaRunner): Promise<void> {
  if ((await lookupUser(name, run)) === undefined) return;
  const result = await run('userdel', [name]);
  if (result.exitCode !== 0) throw new MeshError('MESH_E_INTERNAL', `userdel ${name} failed: ${firstLine(result.stderr)}`, { hint: 'a process may still run as that user; stop the agent first' });
}

function checkName(name: string): void {
  if (!NAME_RULE.test(name)) throw new MeshError('MESH_E_USAGE', `--proxy-user ${JSON.stringify(name)} is not a valid user name`, { hint: 'give lower-case letters, digits, _ or -, starting with a letter' });
}
