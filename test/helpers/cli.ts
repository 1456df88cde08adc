// The real CLI against a test server: synchronous for most checks, async for
// races (several writers at once). The environment is exactly what is given,
// so no joined agent's config or colour setting on the machine leaks in.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { MESHCTL, type ServerProcess } from './server.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Cli {
  run(args: string[], token?: string): CliResult;
  runAsync(args: string[]): Promise<CliResult>;
  /** Runs and asserts exit 0; the stdout. */
  ok(args: string[]): string;
}

export function cliFor(server: () => Pick<ServerProcess, 'address' | 'token'>): Cli {
  const env = (token = server().token) => ({ PATH: process.env.PATH ?? '', MESHCTL_SERVER: server().address, MESHCTL_TOKEN: token, MESHCTL_CONFIG_DIR: '/nonexistent', NO_COLOR: '1' });
  const run = (args: string[], token?: string): CliResult => {
    const r = spawnSync(MESHCTL, args, { encoding: 'utf8', env: env(token), timeout: 30_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    run,
    runAsync: (args) =>
      new Promise((resolve) => {
        const child = spawn(MESHCTL, args, { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
        let [stdout, stderr] = ['', ''];
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      }),
    ok(args) {
      const r = run(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    },
  };
}
