// `meshctl agent` refuses a hand-edited agent.json whose addresses join would
// have refused: exit 2 before it listens or calls the server, the message
// naming the file, the field and the reason, the hint how to fix it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MESHCTL } from '../helpers/server.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function writeConfig(fields: Record<string, unknown>): { configDir: string; path: string } {
  const configDir = mkdtempSync(join(tmpdir(), 'meshctl-agent-config-'));
  dirs.push(configDir);
  const config = {
    version: 1, server: 'http://127.0.0.1:1', token: 't', nodeName: 'host-1', advertiseAddr: '127.0.0.1',
    services: [], upstreams: [], configDir, dataDir: join(configDir, 'data'), adminAddr: '127.0.0.1:0', inboundAddr: '127.0.0.1:0', metricsPort: 0,
    heartbeatIntervalMs: 10_000, syncIntervalMs: 30_000, ...fields,
  };
  writeFileSync(join(configDir, 'agent.json'), JSON.stringify(config), { mode: 0o600 });
  return { configDir, path: join(configDir, 'agent.json') };
}

function agentWith(fields: Record<string, unknown>) {
  const { configDir, path } = writeConfig(fields);
  const result = spawnSync(MESHCTL, ['agent', '--config-dir', configDir], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
  return { code: result.status, stderr: result.stderr, path };
}

const cases: Array<[Record<string, unknown>, string]> = [
  [{ adminAddr: '127.0.0.1:99999' }, 'adminAddr: "127.0.0.1:99999" is not HOST:PORT: the port 99999 is outside 0..65535'],
  [{ adminAddr: '[::1' }, 'adminAddr: "[::1" is not HOST:PORT: the "[" has no closing "]"'],
  [{ inboundAddr: '::1:15006' }, 'inboundAddr: "::1:15006" is not HOST:PORT: an IPv6 address goes in brackets, as [::1]:PORT'],
];

for (const [fields, reason] of cases) {
  test(`agent.json with ${JSON.stringify(fields)}: the agent does not start, and says which field and why`, () => {
    const { code, stderr, path } = agentWith(fields);
    assert.equal(code, 2, stderr);
    assert.equal(stderr, `error: invalid agent config ${path}: ${reason} (run meshctl join again to rewrite it)\n`);
  });
}

test('the same file with good addresses starts the agent (the control: the refusals above are the addresses)', async () => {
  const { configDir } = writeConfig({});
  const agent = spawn(MESHCTL, ['agent', '--config-dir', configDir], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = once(agent, 'exit');
  try {
    await new Promise<void>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('agent for node host-1 started')) resolve();
      };
      agent.stdout.on('data', read);
      agent.stderr.on('data', read);
      agent.once('exit', (code) => reject(new Error(`the agent exited (${code}) before it started: ${output}`)));
      setTimeout(() => reject(new Error(`the agent neither started nor exited in 20 s: ${output}`)), 20_000).unref();
    });
  } finally {
    agent.kill('SIGTERM');
    await exited;
  }
  assert.doesNotMatch(output, /invalid agent config/);
});
