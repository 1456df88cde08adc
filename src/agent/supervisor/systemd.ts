// Supervision by systemd, where it is PID 1: the agent's unit is rendered from
// templates/meshctl-agent.service by pure functions (name, escaping, text),
// and two thin functions install and remove it with systemctl. Commands run
// through an injectable runner so tests see the exact systemctl calls.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { MeshError } from '../../lib/errors.ts';

/** The unit of the agent whose config dir is /etc/meshctl; any other dir gets a hashed name. */
export const DEFAULT_UNIT_NAME = 'meshctl-agent.service';
// Not DEFAULT_CONFIG_DIR from agent-config.ts: MESHCTL_CONFIG_DIR moves that,
// and the name must depend on the dir alone.
const DEFAULT_UNIT_CONFIG_DIR = '/etc/meshctl';
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
const TEMPLATE = new URL('../../../templates/meshctl-agent.service', import.meta.url);
const UNIT_NAME = /^[A-Za-z0-9_.:-]+\.service$/;

// ProtectHome=yes hides the first three and PrivateTmp=yes replaces the last
// two, so the agent could not reach a launcher or a dir beneath them.
const HIDDEN = [
  ['/home', 'ProtectHome=yes'],
  ['/root', 'ProtectHome=yes'],
  ['/run/user', 'ProtectHome=yes'],
  ['/tmp', 'PrivateTmp=yes'],
  ['/var/tmp', 'PrivateTmp=yes'],
] as const;

export interface UnitOptions {
  /** argv of the agent; exec[0] is an absolute path (the bin/meshctl launcher). */
  exec: readonly string[];
  configDir: string;
  dataDir: string;
  unitName: string;
  description?: string;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
/** Runs a command to completion; rejects only when it could not be started. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

export interface UnitDirOptions {
  unitDir?: string;
  run?: CommandRunner;
}

export interface SystemdProbe {
  readFile(path: string): string | undefined;
  isDirectory(path: string): boolean;
}

const usage = (message: string, hint?: string) => new MeshError('MESH_E_USAGE', message, hint === undefined ? {} : { hint });

function checkText(value: string, what: string): void {
  if (/[\x00-\x1f\x7f]/.test(value)) throw usage(`${what} ${JSON.stringify(value)} contains a control character, which a unit file cannot hold`);
}

/** An absolute path, normalized (no //, ., .. or trailing /). */
function cleanPath(path: string, what: string): string {
  checkText(path, what);
  if (!path.startsWith('/')) throw usage(`${what} must be an absolute path, not ${JSON.stringify(path)}`);
  const clean = posix.normalize(path).replace(/(.)\/+$/, '$1');
  if (clean === '/') throw usage(`${what} cannot be /`);
  return clean;
}

function checkReachable(path: string, what: string): void {
  for (const [prefix, setting] of HIDDEN) {
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      throw usage(`${what} ${path} is under ${prefix}, which the agent's unit hides (${setting})`, 'use paths outside /home, /root, /run/user, /tmp and /var/tmp (defaults: /etc/meshctl, /var/lib/meshctl; install.sh installs to /opt/meshctl)');
    }
  }
}

/** meshctl-agent.service for /etc/meshctl, meshctl-agent-<8 hex of sha256(dir)>.service for any other dir. */
export function unitNameFor(configDir: string): string {
  const dir = cleanPath(configDir, 'the config dir');
  if (dir === DEFAULT_UNIT_CONFIG_DIR) return DEFAULT_UNIT_NAME;
  return `meshctl-agent-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}.service`;
}

// Specifiers (%n, %h...) are expanded in most unit settings; %% is a literal %.
const escapeSpecifiers = (value: string): string => value.replaceAll('%', '%%');

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./$-]+$/;
const C_ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One word for a setting that splits on spaces and honours quotes (ExecStart, ReadWritePaths). */
function quoteWord(value: string): string {
  if (SAFE_WORD.test(value)) return value;
  const body = value
    .replace(/[\\"]/g, '\\$&')
    .replace(/[\x01-\x1f\x7f]/g, (c) => C_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${body}"`;
}

/**
 * One argument of ExecStart: % doubled (specifiers), $ doubled (systemd
 * substitutes $VAR and ${VAR} in arguments), then quoted when it is empty or
 * holds anything but plain characters. Quoting also keeps a lone ";" from
 * being read as a command separator; control characters become C escapes.
 */
export function escapeExecArg(arg: string): string {
  if (arg.includes('\0')) throw usage('a command argument cannot contain a NUL byte');
  return quoteWord(escapeSpecifiers(arg).replaceAll('$', () => '$$'));
}

/** The ExecStart= value for argv. exec[0] must be absolute, and free of $: systemd takes the executable's path without substituting variables. */
export function execStartLine(exec: readonly string[]): string {
  const [file, ...args] = exec;
  if (file === undefined) throw usage('the command to supervise is empty');
  checkText(file, 'the executable');
  if (!file.startsWith('/')) throw usage(`the executable must be an absolute path, not ${JSON.stringify(file)}`);
  if (file.includes('$')) throw usage(`the executable path ${file} contains $, which ExecStart cannot express`);
  return [quoteWord(escapeSpecifiers(file)), ...args.map(escapeExecArg)].join(' ');
}

export function readUnitTemplate(): string {
  try {
    return readFileSync(fileURLToPath(TEMPLATE), 'utf8');
  } catch (error) {
    throw new MeshError('MESH_E_INTERNAL', `cannot read the unit template ${fileURLToPath(TEMPLATE)}: ${(error as Error).message}`, { hint: 'reinstall meshctl', cause: error });
  }
}

function checkUnitName(unitName: string): void {
  if (!UNIT_NAME.test(unitName)) throw new MeshError('MESH_E_INTERNAL', `${JSON.stringify(unitName)} is not a service unit name`);
}

/** The unit's text: the template with every {{NAME}} replaced by a value escaped for where it stands. */
export function renderUnit(options: UnitOptions, template: string = readUnitTemplate()): string {
  checkUnitName(options.unitName);
  const configDir = cleanPath(options.configDir, 'the config dir');
  const dataDir = cleanPath(options.dataDir, 'the data dir');
  const exec = execStartLine(options.exec);
  const executable = posix.normalize(options.exec[0] as string);
  checkReachable(executable, 'the executable');
  checkReachable(configDir, 'the config dir');
  checkReachable(dataDir, 'the data dir');
  const description = options.description ?? `meshctl agent (${configDir})`;
  checkText(description, 'the description');
  // A trailing backslash would continue the setting onto the next line.
  if (description.trim() === '' || description.endsWith('\\')) throw usage(`the description ${JSON.stringify(description)} is empty or ends with a backslash`);

  const values: Record<string, string> = {
    UNIT_NAME: options.unitName,
    SYSLOG_IDENTIFIER: options.unitName.slice(0, -'.service'.length),
    DESCRIPTION: escapeSpecifiers(description),
    EXEC: exec,
    CONFIG_DIR: quoteWord(escapeSpecifiers(configDir)),
    DATA_DIR: quoteWord(escapeSpecifiers(dataDir)),
  };
  if (template.replace(/\{\{[A-Z_]+\}\}/g, '').includes('{{')) throw new MeshError('MESH_E_INTERNAL', 'the unit template has a malformed placeholder');
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new MeshError('MESH_E_INTERNAL', `the unit template uses an unknown placeholder {{${name}}}`);
    return value;
  });
}

const nodeProbe: SystemdProbe = {
  readFile(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
};

/** True when systemd runs this machine: /run/systemd/system exists (what sd_booted() checks) or PID 1 is systemd. */
export function isSystemdPid1(probe: SystemdProbe = nodeProbe): boolean {
  return probe.isDirectory('/run/systemd/system') || probe.readFile('/proc/1/comm')?.trim() === 'systemd';
}

export const execaRunner: CommandRunner = async (file, args) => {
  const result = await execa(file, args, { reject: false, stdin: 'ignore' });
  if (result.exitCode === undefined) throw new Error(result.shortMessage);
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};

async function systemctl(run: CommandRunner, args: readonly string[], hint: string): Promise<void> {
  const command = `systemctl ${args.join(' ')}`;
  let result: CommandResult;
  try {
    result = await run('systemctl', args);
  } catch (error) {
    throw new MeshError('MESH_E_INTERNAL', `cannot run ${command}: ${(error as Error).message}`, { hint: 'is systemd installed and running as PID 1?', cause: error });
  }
  if (result.exitCode !== 0) {
    const said = result.stderr.trim() || result.stdout.trim();
    throw new MeshError('MESH_E_INTERNAL', `${command} failed (exit ${result.exitCode})${said ? `: ${said}` : ''}`, { hint });
  }
}

function fileError(action: string, path: string, error: unknown): MeshError {
  const code = (error as NodeJS.ErrnoException).code;
  const hint = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'run meshctl as root' : 'is systemd installed?';
  return new MeshError('MESH_E_INTERNAL', `cannot ${action} ${path}: ${(error as Error).message}`, { hint, cause: error });
}

/** Writes the file 0644 through a temp file in the same dir, fsynced, then renamed over the old one. */
function writeUnitFile(unitDir: string, unitName: string, text: string): void {
  const path = join(unitDir, unitName);
  // A leading dot and no .service suffix: a daemon-reload meanwhile ignores it.
  const temp = join(unitDir, `.${unitName}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    if (!statSync(unitDir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeFileSync(fd, text);
      fchmodSync(fd, 0o644); // the umask may have taken bits away
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    const dir = openSync(unitDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (error) {
    rmSync(temp, { force: true });
    throw fileError('write', path, error);
  }
}

/**
 * Writes the unit, reloads systemd, enables and starts it. `enable --now` does
 * not restart a unit that is already running; `changed` tells the caller
 * whether the text differs from what was there, so it can restart.
 */
export async function installUnit(unitText: string, unitName: string, options: UnitDirOptions = {}): Promise<{ path: string; changed: boolean }> {
  checkUnitName(unitName);
  const { unitDir = DEFAULT_UNIT_DIR, run = execaRunner } = options;
  const path = join(unitDir, unitName);
  let previous: string | undefined;
  try {
    previous = readFileSync(path, 'utf8');
  } catch {
    previous = undefined;
  }
  writeUnitFile(unitDir, unitName, unitText);
  const status = `see systemctl status ${unitName} and journalctl -u ${unitName}`;
  await systemctl(run, ['daemon-reload'], status);
  await systemctl(run, ['enable', '--now', unitName], `the unit is installed at ${path}; ${status}`);
  return { path, changed: previous !== unitText };
}

/** Stops, disables and deletes the unit, then reloads systemd. Nothing to do (and no systemctl call) when the file is gone. */
export async function removeUnit(unitName: string, options: UnitDirOptions = {}): Promise<{ removed: boolean }> {
  checkUnitName(unitName);
  const { unitDir = DEFAULT_UNIT_DIR, run = execaRunner } = options;
  const path = join(unitDir, unitName);
  if (!existsSync(path)) return { removed: false };
  const status = `see systemctl status ${unitName}, then run meshctl leave again`;
  await systemctl(run, ['disable', '--now', unitName], status);
  try {
    rmSync(path, { force: true });
  } catch (error) {
    throw fileError('delete', path, error);
  }
  await systemctl(run, ['daemon-reload'], status);
  return { removed: true };
}
