// `meshctl join` on loopback: bad input leaves nothing behind, and join run
// again updates the registration in place. (The multi-host behaviour is in
// test/e2e/join.test.ts.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, api, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { makeTestCa } from '../helpers/pki.ts';
import { listenLoopback } from '../helpers/listen.ts';

let server: ServerProcess;
let root: string;
let app: Server;
let appPort: number;

before(async () => {
  server = await startServer();
  root = mkdtempSync(join(tmpdir(), 'meshctl-join-'));
  app = createServer((_, res) => res.end('ok'));
  appPort = await listenLoopback(app);
});
after(async () => {
  spawnSync(MESHCTL, ['leave', '--force', ...dirs('a')], { encoding: 'utf8' });
  app?.close();
  await server?.stop();
  removeDir(server?.dataDir ?? '');
  rmSync(root, { recursive: true, force: true });
});

const dirs = (name: string) => ['--data-dir', join(root, name, 'data'), '--config-dir', join(root, name, 'conf'), '--admin-addr', '127.0.0.1:0', '--inbound-addr', '127.0.0.1:0', '--metrics-port', '0'];
function meshctl(args: string[]) {
  const r = spawnSync(MESHCTL, args, { encoding: 'utf8', timeout: 40_000, env: { PATH: process.env.PATH ?? '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
async function agentToken(node: string, services: string[]): Promise<string> {
  const res = await api(server, 'PUT', '/v1/acl/token', { NodeIdentities: [{ NodeName: node }], ServiceIdentities: services.map((ServiceName) => ({ ServiceName })) });
  return ((await res.json()) as { SecretID: string }).SecretID;
}

test('bad input gets one line naming the problem and the fix, the right exit code, and leaves nothing installed', async () => {
  const token = await agentToken('bad', ['web']);
  const otherCaFile = join(root, 'other-ca.pem');
  writeFileSync(otherCaFile, makeTestCa('other.mesh').certPem);
  const cases: Array<[string, string[], number, RegExp]> = [
    ['unknown flag', [server.httpsUrl, '--token', token, '--bogus'], 2, /unknown option '--bogus' \(add --help/],
    ['malformed --service', [server.httpsUrl, '--token', token, '--service', 'web:8080'], 2, /--service "web:8080": expected NAME=PORT first \(use --service NAME=PORT/],
    ['unreachable server', ['127.0.0.1:9', '--token', token, '--service', 'web=8080'], 1, /cannot reach the meshctl server at https:\/\/127\.0\.0\.1:9: ECONNREFUSED \(check that/],
    ['wrong token', [server.httpsUrl, '--ca-hash', server.caHash, '--token', 'not-a-token', '--service', 'web=8080'], 1, /refused the token: ACL not found \(pass a token/],
    ['a token for other services', [`http://${server.address}`, '--token', token, '--node-name', 'bad', '--service', 'db=5432'], 1, /could not register: .*lacks permission 'service:write' on "db" \(nothing was left installed; fix that and run meshctl join again\)/],
    // Off this host, the token goes only to a verified server: refused before any connection is made.
    ['no CA for a server off this host', ['server.invalid:8501', '--token', token, '--service', 'web=8080'], 2, /refusing to send the token to https:\/\/server\.invalid:8501 without verifying the server \(pass --ca-hash/],
    ['a name that only starts with 127.', ['127.evil.invalid:8501', '--token', token, '--service', 'web=8080'], 2, /refusing to send the token to https:\/\/127\.evil\.invalid:8501 without verifying the server/],
    ['plain HTTP off this host', ['http://server.invalid:8500', '--token', token, '--service', 'web=8080'], 2, /refusing to send the token over plain HTTP to http:\/\/server\.invalid:8500 \(join the TLS API/],
    ['a malformed --ca-hash', [server.httpsUrl, '--ca-hash', 'sha256:abc', '--token', token, '--service', 'web=8080'], 2, /--ca-hash "sha256:abc" is not sha256:<64 hex digits>/],
    ['a --ca-hash of another mesh', [server.httpsUrl, '--ca-hash', `sha256:${'0'.repeat(64)}`, '--token', token, '--service', 'web=8080'], 1, /offers no CA root with hash sha256:0{64} \(this is not the mesh you meant/],
    ['a --ca-file of another mesh', [server.httpsUrl, '--ca-file', otherCaFile, '--token', token, '--service', 'web=8080'], 1, /the server's certificate does not verify against the CA/],
  ];
  for (const [what, args, code, message] of cases) {
    const r = meshctl(['join', ...args, ...dirs('bad')]);
    assert.equal(r.code, code, `${what}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    assert.equal(existsSync(join(root, 'bad')), false, `${what}: nothing half-installed`);
  }
  const catalog = (await (await api(server, 'GET', '/v1/catalog/nodes')).json()) as Array<{ Node: string }>;
  assert.equal(catalog.some((n) => n.Node === 'bad'), false);
});

test('join run again with other flags updates the registration in place', async () => {
  const token = await agentToken('node-a', ['web', 'api']);
  const first = meshctl(['join', server.httpsUrl, '--ca-hash', server.caHash, '--token', token, '--node-name', 'node-a', '--service', `web=${appPort},check=http://127.0.0.1:${appPort}/,interval=500ms,tags=v1`, ...dirs('a')]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /started the built-in supervisor/);
  const second = meshctl(['join', server.httpsUrl, '--ca-hash', server.caHash, '--token', token, '--node-name', 'node-a', '--service', `web=${appPort},tags=v2`, '--service', `api=${appPort}`, ...dirs('a')]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /updated the running agent/);
  const node = (await (await api(server, 'GET', '/v1/catalog/node/node-a')).json()) as { Services: Record<string, { Tags: string[] }> };
  // meshctl-agent: the agent's own metrics entry (README, Metrics).
  assert.deepEqual(Object.keys(node.Services).sort(), ['api', 'meshctl-agent', 'web']);
  assert.deepEqual(node.Services.web?.Tags, ['v2']);
  await waitFor(async () => ((await (await api(server, 'GET', '/v1/health/checks/web')).json()) as unknown[]).length === 0, 5000, 'the dropped check to go');
  const left = meshctl(['leave', ...dirs('a').slice(0, 4)]);
  assert.equal(left.code, 0, left.stderr);
  assert.equal(((await (await api(server, 'GET', '/v1/catalog/nodes')).json()) as Array<{ Node: string }>).some((n) => n.Node === 'node-a'), false);
});
