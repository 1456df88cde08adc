// What the benchmarks share: their child processes (started so they die with
// the benchmark, their output kept, stopped politely then by force), free
// ports, CPU accounting from /proc, nginx as the app, and percentiles.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<void>;
  running(): boolean;
}

/** Every child still running, so a benchmark can stop them all on the way out. */
export const children = new Set<Child>();

/** setpriv --pdeathsig: nginx, HAProxy and wrk die with this process even if it is killed with -9. */
const SETPRIV = (() => {
  try {
    return execFileSync('setpriv', ['--help'], { encoding: 'utf8' }).includes('--pdeathsig');
  } catch {
    return false;
  }
})();

export function launch(name: string, command: string, args: string[], options: { stdinPipe?: boolean; env?: Record<string, string> } = {}): Child {
  const [cmd, argv] = SETPRIV && !options.stdinPipe ? ['setpriv', ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
  const proc = spawn(cmd as string, argv as string[], { stdio: [options.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCTL_ROOT: ROOT, ...options.env } });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    // 'close': exited and its output read to the end (wrk's summary comes last).
    proc.once('close', () => {
      done = true;
      resolve();
    });
    proc.once('error', (error) => {
      out += `\n${error.message}`;
      done = true;
      resolve();
    });
  });
  if (proc.pid === undefined) throw new Error(`cannot start ${command}`);
  const child: Child = { name, proc, pid: proc.pid, output: () => out, exited, running: () => !done };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

export async function stopChild(child: Child, timeoutMs = 3000): Promise<void> {
  if (!child.running()) return;
  child.proc.kill('SIGTERM');
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  const stopped = await Promise.race([child.exited.then(() => true), timer]);
  if (!stopped) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

export function freePort(): Promise<number> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (total - idle) / CLK_TCK;
}

export function nginxConfig(dir: string, port: number, label: string): string {
  const t = join(dir, 'nginx-tmp');
  return `# upstream app for bench/${label} (temp prefix ${dir})
daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t}/client;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / { default_type text/plain; return 200 "ok"; }
  }
}
`;
}

export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
