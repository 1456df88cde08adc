// The built-in supervisor, for hosts where systemd is not PID 1: keeps one
// agent process running, restarts it with capped exponential backoff, writes
// pid files and keeps rotated logs under the data dir. SIGTERM stops the agent
// and then itself; SIGHUP is passed on (the agent rereads its config).

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextCrashCount, restartDelay } from './backoff.ts';
import { RotatingLog } from './rotating-log.ts';
import { makeDirs } from '../../lib/make-dirs.ts';

export const SUPERVISOR_PID = 'supervisor.pid';
export const AGENT_PID = 'agent.pid';
export const logsDir = (dataDir: string): string => join(dataDir, 'logs');

export interface SupervisorOptions {
  dataDir: string;
  /** argv of the agent: [executable, ...args]. */
  agentCommand: readonly string[];
}

export function runSupervisor(options: SupervisorOptions): Promise<void> {
  const { dataDir } = options;
  makeDirs(logsDir(dataDir), 0o700);
  const log = new RotatingLog(join(logsDir(dataDir), 'agent.log'));
  const note = (line: string) => log.write(`${new Date().toISOString()} [supervisor] ${line}\n`);
  writeFileSync(join(dataDir, SUPERVISOR_PID), `${process.pid}\n`, { mode: 0o600 });

  let child: ChildProcess | undefined;
  let stopping = false;
  let crashes = 0;
  let restartTimer: NodeJS.Timeout | undefined;

  return new Promise<void>((resolve) => {
    const finish = () => {
      rmSync(join(dataDir, AGENT_PID), { force: true });
      rmSync(join(dataDir, SUPERVISOR_PID), { force: true });
      note('stopped');
      resolve();
    };

    const start = () => {
      const startedAt = Date.now();
      const [command, ...args] = options.agentCommand as [string, ...string[]];
      const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      // A spawn that fails (the runtime moved by an upgrade, no memory) goes through the same backoff as a crash.
      proc.once('error', (error) => {
        note(`agent could not start: ${error.message}`);
        if (proc.exitCode === null && proc.signalCode === null) proc.emit('exit', null, null);
      });
      proc.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
      proc.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
      if (proc.pid) writeFileSync(join(dataDir, AGENT_PID), `${proc.pid}\n`, { mode: 0o600 });
      note(`agent started, pid ${proc.pid}`);
      let exited = false;
      proc.once('exit', (code, signal) => {
        if (exited) return;
        exited = true;
        child = undefined;
        rmSync(join(dataDir, AGENT_PID), { force: true });
        if (stopping) return finish();
        crashes = nextCrashCount(crashes, Date.now() - startedAt);
        const delay = restartDelay(crashes);
        note(`agent exited (${signal ?? `code ${code}`}); restarting in ${delay} ms (crash ${crashes} in a row)`);
        restartTimer = setTimeout(safeStart, delay);
      });
    };

    /** start(), with a failure (a full disk for the pid file, say) retried on the backoff rather than killing the supervisor. */
    const safeStart = () => {
      try {
        start();
      } catch (error) {
        crashes += 1;
        note(`agent could not be started: ${(error as Error).message}; retrying in ${restartDelay(crashes)} ms`);
        if (!stopping) restartTimer = setTimeout(safeStart, restartDelay(crashes));
      }
    };

    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      note('SIGHUP: passing it to the agent');
      child?.kill('SIGHUP');
    });

    function stop(signal: string) {
      if (stopping) return;
      stopping = true;
      note(`${signal}: stopping the agent`);
      if (restartTimer) clearTimeout(restartTimer);
      if (!child) return finish();
      const proc = child;
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
    }

    safeStart();
  });
}

/** The pid in a pid file, if that process is alive and is a meshctl process. */
export function livePid(dataDir: string, file: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, file), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // Guard against a reused pid: the process must be ours.
  try {
    // The process must be this data dir's supervisor or agent, not any node process that got the pid after a reboot.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const role = file === SUPERVISOR_PID ? 'supervise' : 'agent';
    if (!argv.includes(role)) return undefined;
    if (role === 'supervise' && !argv.includes(dataDir)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}
