// The CLI as an operator meets it: help with examples everywhere, exit codes
// (0 ok, 1 runtime, 2 usage), one-line errors that name the fix, and the
// server/token lookup order.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliFor } from '../helpers/cli.ts';
import { MESHCTL, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
let configDir: string;

before(async () => {
  server = await startServer();
  configDir = mkdtempSync(join(tmpdir(), 'meshctl-cli-'));
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
  rmSync(configDir, { recursive: true, force: true });
});

function meshctl(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(MESHCTL, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', MESHCTL_CONFIG_DIR: configDir, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
const withServer = () => ({ MESHCTL_SERVER: server.address, MESHCTL_TOKEN: server.token });

describe('help', () => {
  test('meshctl --help lists every command', () => {
    const { code, stdout } = meshctl(['--help']);
    assert.equal(code, 0);
    for (const command of ['server', 'join', 'leave', 'status', 'services', 'nodes', 'config', 'ca', 'token', 'kv', 'agent', 'supervise']) assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'));
  });

  test('every command and subcommand has examples in its --help', () => {
    const leaves = [['server'], ['ca'], ['ca', 'show'], ['config'], ['config', 'set'], ['config', 'get'], ['config', 'list'], ['config', 'delete'], ['join'], ['leave'], ['status'], ['services'], ['nodes'], ['agent'], ['supervise'], ['token'], ['token', 'create'], ['token', 'list'], ['token', 'revoke'], ['kv'], ['kv', 'get'], ['kv', 'put'], ['kv', 'delete']];
    for (const path of leaves) {
      const { code, stdout } = meshctl([...path, '--help']);
      assert.equal(code, 0, path.join(' '));
      assert.match(stdout, /Examples:\n {2}meshctl /, `${path.join(' ')} --help has examples`);
    }
  });
});

describe('exit codes and errors', () => {
  test('an unknown command or flag exits 2 and says how to get help', () => {
    for (const args of [['bogus'], ['server', '--bogus'], ['token', 'create']]) {
      const { code, stderr } = meshctl(args);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, /error: /);
    }
  });

  test('a usage error found after parsing also exits 2 with the fix', () => {
    const { code, stderr } = meshctl(['server']);
    assert.equal(code, 2);
    assert.match(stderr, /needs --data-dir \(give --data-dir DIR .* or --dev/);
    const policy = meshctl(['token', 'create', '--policy', 'root'], withServer());
    assert.equal(policy.code, 2);
    assert.match(policy.stderr, /unknown policy "root" \(use --policy management\|agent\|read\)/);
  });

  test('an unreachable server exits 1 and names the address and the fix', () => {
    const { code, stderr } = meshctl(['token', 'list', '--server', '127.0.0.1:1']);
    assert.equal(code, 1);
    assert.match(stderr, /cannot reach the meshctl server at http:\/\/127\.0\.0\.1:1: ECONNREFUSED \(.*--server ADDR/);
    assert.equal(stderr.trim().split('\n').length, 1, 'one line');
  });

  test('an address where something other than meshctl answers: exit 1, and the hint says it may not be a meshctl server', async () => {
    const other = createServer((req, res) => res.writeHead(req.url?.startsWith('/v1/catalog') ? 404 : 500).end());
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(other.address() as { port: number }).port}`;
    try {
      // Async: the foreign server answers from this very process.
      const r = await cliFor(() => ({ address, token: '' })).runAsync(['services']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `error: the server answered 404: HTTP 404 (http://${address}, from MESHCTL_SERVER, may not be a meshctl server: check --server or MESHCTL_SERVER, and the port: 8500 plain HTTP, 8501 TLS)\n`);
    } finally {
      other.close();
    }
    // meshctl's own 404 (a stat of a service it does not have) says no such thing.
    const own = meshctl(['stat', 'nosuch'], withServer());
    assert.equal(own.code, 1);
    assert.doesNotMatch(own.stderr, /may not be a meshctl server/);
  });

  test('a data dir the kernel cannot make (under /proc) is an error naming it, at once: Node\'s recursive mkdir would spin there for ever', () => {
    const started = Date.now();
    const { code, stderr } = meshctl(['server', '--data-dir', '/proc/meshctl-none/data', '--http-addr', '127.0.0.1:0', '--https-addr', '']);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /cannot create the data dir \/proc\/meshctl-none\/data: ENOENT.*\(pick a writable --data-dir\)/);
    assert.ok(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms`);
  });

  test('a wrong token exits 1 and says to pass another', () => {
    const { code, stderr } = meshctl(['kv', 'get', 'x', '--server', server.address, '--token', 'wrong']);
    assert.equal(code, 1);
    assert.match(stderr, /refused the token: ACL not found \(pass a token/);
  });
});

describe('server and token lookup', () => {
  test('flags beat the environment, which beats the joined agent config', () => {
    writeFileSync(join(configDir, 'agent.json'), JSON.stringify({ server: '127.0.0.1:1', token: 'bad' }));
    assert.equal(meshctl(['token', 'list']).code, 1, 'the agent config points at nothing');
    assert.equal(meshctl(['token', 'list'], withServer()).code, 0, 'the environment wins over it');
    const flags = meshctl(['token', 'list', '--server', server.address, '--token', server.token], { MESHCTL_SERVER: '127.0.0.1:1' });
    assert.equal(flags.code, 0, 'flags win over the environment');
    writeFileSync(join(configDir, 'agent.json'), JSON.stringify({ server: server.address, token: server.token }));
    assert.equal(meshctl(['token', 'list']).code, 0, 'the joined agent config is used when nothing else is given');
    rmSync(join(configDir, 'agent.json'));
  });
});

describe('commands', () => {
  test('token create, list --json and revoke', () => {
    const created = meshctl(['token', 'create', '--policy', 'agent', '--node', 'host-1', '--service', 'web', 'api', '--description', 'host one', '--json'], withServer());
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout) as { AccessorID: string; SecretID: string; MeshPolicy: string };
    assert.equal(token.MeshPolicy, 'agent');
    assert.match(token.SecretID, /^[0-9a-f-]{36}$/);
    const list = JSON.parse(meshctl(['token', 'list', '--json'], withServer()).stdout) as Array<{ AccessorID: string; SecretID?: string; ServiceIdentities: Array<{ ServiceName: string }> }>;
    const listed = list.find((t) => t.AccessorID === token.AccessorID);
    assert.deepEqual(listed?.ServiceIdentities.map((s) => s.ServiceName), ['web', 'api']);
    assert.equal(listed?.SecretID, undefined);
    const text = meshctl(['token', 'list'], withServer()).stdout;
    assert.match(text, new RegExp(`${token.AccessorID}\\s+agent node=host-1 services=web,api`));
    assert.equal(meshctl(['token', 'revoke', token.AccessorID], withServer()).code, 0);
    const again = meshctl(['token', 'revoke', token.AccessorID], withServer());
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no token with accessor ID/);
  });

  test('kv put, get (text and --json), cas and delete', () => {
    assert.equal(meshctl(['kv', 'put', 'cli/level', 'debug'], withServer()).code, 0);
    assert.equal(meshctl(['kv', 'get', 'cli/level'], withServer()).stdout, 'debug\n');
    const entry = JSON.parse(meshctl(['kv', 'get', 'cli/level', '--json'], withServer()).stdout) as { Value: string; ModifyIndex: number };
    assert.equal(entry.Value, 'debug');
    const stale = meshctl(['kv', 'put', 'cli/level', 'info', '--cas', String(entry.ModifyIndex + 5)], withServer());
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /lost its check-and-set/);
    assert.equal(meshctl(['kv', 'put', 'cli/level', 'info', '--cas', String(entry.ModifyIndex)], withServer()).code, 0);
    assert.equal(meshctl(['kv', 'delete', 'cli/level'], withServer()).code, 0);
    const missing = meshctl(['kv', 'get', 'cli/level'], withServer());
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no key cli\/level/);
  });
});
