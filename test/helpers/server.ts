// Starts a real `meshctl server` process (the built CLI, through bin/meshctl)
// on a free loopback port, and stops it in teardown.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MESHCTL = join(ROOT, 'bin', 'meshctl');

export interface ServerProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly address: string;
  /** The TLS API, https://HOST:PORT ('' in --dev): what hosts join. */
  readonly httpsUrl: string;
  /** The CA pin for join --ca-hash ('' in --dev). */
  readonly caHash: string;
  readonly port: number;
  /** The management token ('' in --dev). */
  readonly token: string;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash. */
  kill9(): Promise<void>;
}

export interface StartOptions {
  dev?: boolean;
  /** Reuse a data dir (a restart). */
  dataDir?: string;
  /** Reuse a port (a restart at the same address). */
  port?: number;
  /** The TLS API's port (0, a free one, by default). */
  httpsPort?: number;
  host?: string;
  extraArgs?: string[];
  /** Run the server in this network namespace. */
  netns?: string;
}

export async function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dev ? '' : (options.dataDir ?? mkdtempSync(join(tmpdir(), 'meshctl-test-')));
  const host = options.host ?? '127.0.0.1';
  const args = ['server', '--http-addr', `${host}:${options.port ?? 0}`, '--node-name', 'test-server'];
  args.push(...(options.dev ? ['--dev'] : ['--data-dir', dataDir, '--https-addr', `${host}:${options.httpsPort ?? 0}`]), ...(options.extraArgs ?? []));
  const command = options.netns ? 'ip' : MESHCTL;
  const argv = options.netns ? ['netns', 'exec', options.netns, MESHCTL, ...args] : args;
  const proc = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20s:\n${out}`)), 20_000);
    const onData = () => {
      const match = /serving on http:\/\/(\S+)/.exec(out);
      if (match && out.includes('ready')) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        resolve(match[1] as string);
      }
    };
    proc.stdout.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}`));
    });
  });
  let token = '';
  if (!options.dev) token = readFileSync(join(dataDir, 'management.token'), 'utf8').trim();
  const httpsUrl = /serving TLS on (https:\/\/\S+)/.exec(out)?.[1] ?? '';
  const caHash = /--ca-hash (sha256:[0-9a-f]{64})/.exec(out)?.[1] ?? '';
  const stopWith = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return {
    url: `http://${address}`,
    address,
    port: Number(address.slice(address.lastIndexOf(':') + 1)),
    token,
    httpsUrl,
    caHash,
    dataDir,
    proc,
    output: () => out,
    stop: () => stopWith('SIGTERM'),
    kill9: () => stopWith('SIGKILL'),
  };
}

export function removeDir(dir: string): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Polls cond until it holds or timeoutMs passes (a condition, never a fixed sleep). */
export async function waitFor<T>(cond: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** fetch against the server with the token. */
export async function api(server: Pick<ServerProcess, 'url' | 'token'>, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(server.url + path, {
    method,
    headers: server.token ? { 'X-Consul-Token': server.token } : {},
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}
