// meshctl config against a real server: the service-defaults round trip,
// validation before anything is stored, ACLs, and concurrent edits.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { MESHCTL, api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

const env = () => ({ PATH: process.env.PATH ?? '', MESHCTL_SERVER: server.address, MESHCTL_TOKEN: server.token, MESHCTL_CONFIG_DIR: '/nonexistent' });
function meshctl(args: string[]) {
  const r = spawnSync(MESHCTL, args, { encoding: 'utf8', env: env(), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function meshctlAsync(args: string[]): Promise<number | null> {
  return new Promise((resolve) => spawn(MESHCTL, args, { env: env(), stdio: 'ignore' }).on('exit', resolve));
}

test('set, get, list and delete a service-defaults entry', async () => {
  assert.equal(meshctl(['config', 'set', 'service-defaults', 'web', 'protocol=http', 'retries.num_retries=3']).code, 0);
  const got = JSON.parse(meshctl(['config', 'get', 'service-defaults', 'web', '--json']).stdout) as { Kind: string; Name: string; Config: unknown };
  assert.deepEqual([got.Kind, got.Name, got.Config], ['service-defaults', 'web', { protocol: 'http', retries: { num_retries: 3 } }]);
  assert.equal(meshctl(['config', 'set', 'service-defaults', 'web', 'load_balancer.policy=round_robin']).code, 0);
  const merged = JSON.parse(meshctl(['config', 'get', 'service-defaults', 'web', '--json']).stdout) as { Config: Record<string, unknown> };
  assert.deepEqual(merged.Config, { protocol: 'http', retries: { num_retries: 3 }, load_balancer: { policy: 'round_robin' } }, 'set merges');
  const listed = JSON.parse(meshctl(['config', 'list', '--json']).stdout) as Array<{ Name: string }>;
  assert.deepEqual(listed.map((e) => e.Name), ['web']);
  const snapshot = (await (await api(server, 'GET', '/v1/mesh/config')).json()) as { Entries: Array<{ Kind: string; Name: string }> };
  assert.deepEqual(snapshot.Entries.map((e) => `${e.Kind}/${e.Name}`), ['service-defaults/web'], 'agents get it through the config snapshot');
  assert.equal(meshctl(['config', 'delete', 'service-defaults', 'web']).code, 0);
  assert.equal(meshctl(['config', 'get', 'service-defaults', 'web']).code, 1);
});

test('a bad value exits 2 naming the field and value, and stores nothing', async () => {
  const before = (await (await api(server, 'GET', '/v1/mesh/config')).json()) as { Entries: unknown[] };
  const r = meshctl(['config', 'set', 'service-defaults', 'api', 'protocol=smtp', 'retries.num_retries=many']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid service-defaults for api: protocol: .*; retries\.num_retries: /);
  assert.equal(meshctl(['config', 'set', 'widgets', 'api', 'a=b']).code, 2);
  const afterSet = (await (await api(server, 'GET', '/v1/mesh/config')).json()) as { Entries: unknown[] };
  assert.deepEqual(afterSet, before);
  const direct = await api(server, 'PUT', '/v1/mesh/config/service-defaults/api', { protocol: 'smtp' });
  assert.equal(direct.status, 400, 'the server validates too');
  assert.match(await direct.text(), /protocol:/);
});

test('an agent token may read the config but not write it', async () => {
  const made = await api(server, 'PUT', '/v1/acl/token', { NodeIdentities: [{ NodeName: 'h' }] });
  const agent = { url: server.url, token: ((await made.json()) as { SecretID: string }).SecretID };
  assert.equal((await api(agent, 'PUT', '/v1/mesh/config/service-defaults/web', { protocol: 'http' })).status, 403);
  assert.equal((await api(agent, 'GET', '/v1/mesh/config')).status, 200);
});

test('two concurrent sets of different keys both survive (check-and-set merges)', async () => {
  const codes = await Promise.all([
    meshctlAsync(['config', 'set', 'service-defaults', 'db', 'timeouts.connect=1s']),
    meshctlAsync(['config', 'set', 'service-defaults', 'db', 'retries.num_retries=4']),
    meshctlAsync(['config', 'set', 'service-defaults', 'db', 'protocol=tcp']),
  ]);
  assert.deepEqual(codes, [0, 0, 0]);
  const got = JSON.parse(meshctl(['config', 'get', 'service-defaults', 'db', '--json']).stdout) as { Config: unknown };
  assert.deepEqual(got.Config, { timeouts: { connect: '1s' }, retries: { num_retries: 4 }, protocol: 'tcp' });
});
