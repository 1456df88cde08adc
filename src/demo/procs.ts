// The demo's child processes: each started as the leader of its own process
// group (detached), so the terminal's Ctrl-C reaches only the demo, which then
// stops them in order; stopped by group id, SIGTERM then SIGKILL, never by
// name or pattern. Their output goes to log files in the run's temp dir (a
// pipe would tie their life to ours). Every child carries MESHCTL_DEMO_RUN in
// its environment and its pid is recorded in pids.txt, so that a later run
// can sweep what a demo killed with SIGKILL left behind, checking the marker
// before it signals anything.

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const RUN_MARKER = 'MESHCTL_DEMO_RUN';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Tracked {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function running(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Alive and not a zombie. */
export function stillRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The last lines of a log, for error messages. */
export function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

export class ProcessGroup {
  private readonly dir: string;
  private readonly marker: string;
  private readonly tracked = new Set<Tracked>();
  private hurry: (() => void) | undefined;
  /** Called when a process exits that nobody asked to stop. */
  onUnexpectedExit: ((proc: Tracked, exit: Exit) => void) | undefined;
  private stopping = false;

  constructor(dir: string, marker: string) {
    this.dir = dir;
    this.marker = marker;
  }

  /**
   * Starts argv[0] with argv[1..] in a process group of its own, output to
   * DIR/NAME.log. A one-shot command (a meshctl CLI call) is expected to exit.
   */
  spawn(name: string, argv: readonly string[], options: { env?: NodeJS.ProcessEnv; oneShot?: boolean } = {}): Tracked {
    const env = options.env ?? process.env;
    const logFile = join(this.dir, `${name}.log`);
    const out = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, out], env: { ...env, [RUN_MARKER]: this.marker } });
    } finally {
      closeSync(out);
    }
    const exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      // A command that cannot start (ENOENT) emits error and no exit.
      child.once('error', () => resolve({ code: 127, signal: null }));
    });
    const proc: Tracked = { name, child, logFile, exited };
    if (child.pid !== undefined) {
      this.tracked.add(proc);
      appendFileSync(join(this.dir, 'pids.txt'), `${child.pid}\n`);
    }
    void exited.then((exit) => {
      if (!this.stopping && !options.oneShot && this.tracked.has(proc)) this.onUnexpectedExit?.(proc, exit);
      this.tracked.delete(proc);
    });
    return proc;
  }

  /** Every process still running, as the CLI's tests see them. */
  pids(): number[] {
    return [...this.tracked].map((p) => p.child.pid!).filter((pid) => stillRunning(pid));
  }

  /** SIGTERM every group, SIGKILL what is left after `graceMs` (at once if hurried: a second Ctrl-C). */
  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    const procs = [...this.tracked].filter((p) => running(p.child));
    const all = Promise.all(procs.map((p) => p.exited));
    for (const p of procs) killQuietly(-p.child.pid!, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); this.hurry = resolve; })]);
    clearTimeout(timer);
    // The groups, even when the leader is gone: a grandchild may linger.
    for (const p of procs) killQuietly(-p.child.pid!, 'SIGKILL');
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)))]);
    clearTimeout(timer);
  }

  /** A second Ctrl-C: stop waiting for graceful exits. */
  hurryUp(): void {
    this.hurry?.();
  }

  /** For 'exit' handlers: the same, synchronously, with a short grace. */
  stopAllSync(): void {
    this.stopping = true;
    const procs = [...this.tracked].filter((p) => running(p.child));
    for (const p of procs) killQuietly(-p.child.pid!, 'SIGTERM');
    const deadline = Date.now() + 500;
    while (procs.some((p) => stillRunning(p.child.pid!)) && Date.now() < deadline) sleepSync(20);
    for (const p of procs) killQuietly(-p.child.pid!, 'SIGKILL');
  }
}

/**
 * Kills what a dead run recorded in its pids.txt, but only processes that
 * still carry its marker (a recycled pid belongs to someone else).
 */
export function killRecorded(pidsFile: string, marker: string): number {
  let text = '';
  try {
    text = readFileSync(pidsFile, 'utf8');
  } catch {
    return 0;
  }
  let killed = 0;
  for (const pid of text.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 1)) {
    let environ = '';
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    if (!environ.split('\0').includes(`${RUN_MARKER}=${marker}`)) continue;
    killQuietly(-pid, 'SIGKILL');
    killQuietly(pid, 'SIGKILL');
    killed++;
  }
  return killed;
}
