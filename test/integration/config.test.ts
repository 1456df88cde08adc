// meshctl config and /v1/mesh/config/service-defaults against a real server:
// the CLI round trip, validation before anything is stored, the snapshot
// agents watch, ACLs, check-and-set, and concurrent edits. The retry after a
// lost check-and-set is also pinned against a scripted server.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MESHCTL, api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
let files: string;
before(async () => {
  server = await startServer();
  files = mkdtempSync(join(tmpdir(), 'meshctl-config-test-'));
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
  removeDir(files ?? '');
});

const env = (address = server.address, token = server.token) => ({ PATH: process.env.PATH ?? '', MESHCTL_SERVER: address, MESHCTL_TOKEN: token, MESHCTL_CONFIG_DIR: '/nonexistent' });
function meshctl(args: string[], target?: { address: string; token: string }) {
  const r = spawnSync(MESHCTL, args, { encoding: 'utf8', env: env(target?.address, target?.token), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function meshctlAsync(args: string[], address = server.address): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(MESHCTL, args, { env: env(address), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}
const getJson = <T>(args: string[]): T => {
  const r = meshctl(args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
};
const snapshot = async () => ((await (await api(server, 'GET', '/v1/mesh/config')).json()) as { Entries: Array<{ Kind: string; Name: string; Config: unknown; ModifyIndex: number }> }).Entries;
async function tokenFor(body: unknown): Promise<{ url: string; address: string; token: string }> {
  const made = await api(server, 'PUT', '/v1/acl/token', body);
  assert.equal(made.status, 200);
  return { url: server.url, address: server.address, token: ((await made.json()) as { SecretID: string }).SecretID };
}

describe('meshctl config', () => {
  test('set merges key=value settings; get, list and the agents\' snapshot show them; delete removes them', async () => {
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'web', 'protocol=http', 'retries.num_retries=3']).code, 0);
    const got = getJson<{ Kind: string; Name: string; Config: unknown; ModifyIndex: number }>(['config', 'get', 'service-defaults', 'web', '--json']);
    assert.deepEqual([got.Kind, got.Name, got.Config], ['service-defaults', 'web', { protocol: 'http', retries: { num_retries: 3 } }]);

    const r = meshctl(['config', 'set', 'service-defaults', 'web', 'load_balancer.policy=ring_hash', 'load_balancer.hash_on.header=x-user', 'retries.retry_on=5xx,reset']);
    assert.equal(r.code, 0, r.stderr);
    const merged = getJson<{ Config: unknown; ModifyIndex: number }>(['config', 'get', 'service-defaults', 'web', '--json']);
    assert.deepEqual(merged.Config, { protocol: 'http', retries: { num_retries: 3, retry_on: ['5xx', 'reset'] }, load_balancer: { policy: 'ring_hash', hash_on: { header: 'x-user' } } }, 'set merges');
    assert.ok(merged.ModifyIndex > got.ModifyIndex);

    const human = meshctl(['config', 'get', 'service-defaults', 'web']).stdout;
    assert.match(human, /^retries\.retry_on +5xx,reset$/m);
    const resolved = getJson<{ Resolved: { timeouts: unknown; retries: { num_retries: number } } }>(['config', 'get', 'service-defaults', 'web', '--resolved', '--json']);
    assert.deepEqual(resolved.Resolved.timeouts, { connect: '5s', request: '15s', idle: '1h' }, '--resolved fills in the defaults');
    assert.equal(resolved.Resolved.retries.num_retries, 3);
    assert.match(meshctl(['config', 'get', 'service-defaults', 'web', '--resolved']).stdout, /^timeouts\.connect +5s +default$/m);

    const listed = getJson<Array<{ Kind: string; Name: string }>>(['config', 'list', '--json']);
    assert.deepEqual(listed.map((e) => `${e.Kind}/${e.Name}`), ['service-defaults/web']);
    assert.deepEqual(getJson<unknown[]>(['config', 'list', 'service-defaults', '--json']), listed);
    assert.match(meshctl(['config', 'list']).stdout, /^service-defaults +web +\d+ +protocol=http /m);

    const entries = await snapshot();
    assert.deepEqual(entries.map((e) => [e.Kind, e.Name, e.Config, e.ModifyIndex]), [['service-defaults', 'web', merged.Config, merged.ModifyIndex]], 'agents get it through the config snapshot');

    assert.equal(meshctl(['config', 'delete', 'service-defaults', 'web']).code, 0);
    assert.deepEqual(await snapshot(), []);
    const gone = meshctl(['config', 'get', 'service-defaults', 'web']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no service-defaults entry for web/);
    assert.match(meshctl(['config', 'delete', 'service-defaults', 'web']).stdout, /nothing to delete/);
  });

  test('set -f FILE replaces the entry, from YAML or from what get --json printed', async () => {
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'files', 'protocol=http', 'mtls_mode=permissive']).code, 0);
    const yamlFile = join(files, 'files.yaml');
    writeFileSync(yamlFile, 'protocol: grpc\ntimeouts:\n  request: 0s\nretries:\n  retry_on: [reset, 5xx]\n');
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'files', '-f', yamlFile]).code, 0);
    const got = getJson<{ Config: unknown }>(['config', 'get', 'service-defaults', 'files', '--json']);
    assert.deepEqual(got.Config, { protocol: 'grpc', timeouts: { request: '0s' }, retries: { retry_on: ['reset', '5xx'] } }, '-f replaces: mtls_mode is gone');

    const jsonFile = join(files, 'files.json');
    writeFileSync(jsonFile, meshctl(['config', 'get', 'service-defaults', 'files', '--json']).stdout);
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'copy', '-f', jsonFile]).code, 0);
    assert.deepEqual(getJson<{ Config: unknown }>(['config', 'get', 'service-defaults', 'copy', '--json']).Config, got.Config);
  });

  test('a bad value exits 2 naming the field and the value, and stores nothing', async () => {
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'api', 'protocol=http']).code, 0);
    const before = await snapshot();

    const bad = meshctl(['config', 'set', 'service-defaults', 'api', 'protocol=smtp', 'retries.num_retries=three']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid service-defaults for api: protocol: expected one of tcp, http, http2, grpc, got "smtp"; retries\.num_retries: expected a whole number ≥ 0, got "three"/);

    const hinted = meshctl(['config', 'set', 'service-defaults', 'api', 'lb.policy=random']);
    assert.equal(hinted.code, 2);
    assert.match(hinted.stderr, /lb: unknown key, did you mean load_balancer\?/);

    const badFile = join(files, 'bad.yaml');
    writeFileSync(badFile, 'protocol: http\nloadbalancer:\n  policy: random\ncircuit_breaker:\n  max_connections: 0\n');
    const fromFile = meshctl(['config', 'set', 'service-defaults', 'api', '-f', badFile]);
    assert.equal(fromFile.code, 2);
    assert.match(fromFile.stderr, /circuit_breaker\.max_connections: expected a whole number ≥ 1, got 0; loadbalancer: unknown key, did you mean load_balancer\?/);

    const kind = meshctl(['config', 'set', 'widgets', 'api', 'a=b']);
    assert.equal(kind.code, 2);
    assert.match(kind.stderr, /unknown config kind "widgets" \(the kinds are: service-defaults, service-intentions, mesh, service-router, service-resolver\)/);
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'not_a_name', 'protocol=http']).code, 2);
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'api']).code, 2, 'nothing to set');

    assert.deepEqual(await snapshot(), before, 'nothing was stored');
  });

  test('an agent token may read the config but not write it; a read token may read it', async () => {
    assert.equal(meshctl(['config', 'set', 'service-defaults', 'acl', 'protocol=http']).code, 0);
    const agent = await tokenFor({ NodeIdentities: [{ NodeName: 'h' }] });
    const reader = await tokenFor({ Policies: [{ Name: 'global-read-only' }] });
    for (const who of [agent, reader]) {
      assert.equal((await api(who, 'PUT', '/v1/mesh/config/service-defaults/acl', { protocol: 'grpc' })).status, 403);
      assert.equal((await api(who, 'DELETE', '/v1/mesh/config/service-defaults/acl')).status, 403);
      assert.equal((await api(who, 'GET', '/v1/mesh/config/service-defaults/acl')).status, 200);
      assert.equal((await api(who, 'GET', '/v1/mesh/config/service-defaults')).status, 200);
      assert.equal((await api(who, 'GET', '/v1/mesh/config')).status, 200);
    }
    assert.equal((await api({ url: server.url, token: '' }, 'GET', '/v1/mesh/config/service-defaults/acl')).status, 403, 'anonymous callers read nothing');
    const denied = meshctl(['config', 'set', 'service-defaults', 'acl', 'protocol=grpc'], agent);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /lacks permission 'operator:write'/);
    assert.equal(meshctl(['config', 'get', 'service-defaults', 'acl', '--json'], agent).code, 0);
    assert.deepEqual(getJson<{ Config: unknown }>(['config', 'get', 'service-defaults', 'acl', '--json']).Config, { protocol: 'http' });
  });

  test('two concurrent sets of different keys both survive (check-and-set, retried once)', async () => {
    for (const name of ['db-1', 'db-2', 'db-3']) {
      const results = await Promise.all([
        meshctlAsync(['config', 'set', 'service-defaults', name, 'timeouts.connect=1s']),
        meshctlAsync(['config', 'set', 'service-defaults', name, 'retries.num_retries=4']),
      ]);
      assert.deepEqual(results.map((r) => r.code), [0, 0], results.map((r) => r.stderr).join(''));
      assert.deepEqual(getJson<{ Config: unknown }>(['config', 'get', 'service-defaults', name, '--json']).Config, { timeouts: { connect: '1s' }, retries: { num_retries: 4 } });
    }
  });
});

describe('the API', () => {
  const path = '/v1/mesh/config/service-defaults/cas';

  test('PUT answers the stored entry; ?cas=N writes only over index N (0: only when absent)', async () => {
    const created = await api(server, 'PUT', `${path}?cas=0`, { protocol: 'http' });
    assert.equal(created.status, 200);
    const entry = (await created.json()) as { Kind: string; Name: string; Config: unknown; CreateIndex: number; ModifyIndex: number };
    assert.deepEqual([entry.Kind, entry.Name, entry.Config], ['service-defaults', 'cas', { protocol: 'http' }]);
    assert.equal(entry.CreateIndex, entry.ModifyIndex);

    const again = await api(server, 'PUT', `${path}?cas=0`, { protocol: 'grpc' });
    assert.equal(again.status, 409);
    assert.equal(again.headers.get('x-mesh-error-code'), 'MESH_E_CONFLICT');
    assert.equal((await api(server, 'PUT', `${path}?cas=${entry.ModifyIndex - 1}`, { protocol: 'grpc' })).status, 409);
    const updated = await api(server, 'PUT', `${path}?cas=${entry.ModifyIndex}`, { protocol: 'grpc' });
    assert.equal(updated.status, 200);
    const next = (await updated.json()) as { Config: unknown; CreateIndex: number; ModifyIndex: number };
    assert.deepEqual(next.Config, { protocol: 'grpc' });
    assert.equal(next.CreateIndex, entry.CreateIndex);
    assert.ok(next.ModifyIndex > entry.ModifyIndex);

    assert.equal((await api(server, 'DELETE', `${path}?cas=${entry.ModifyIndex}`)).status, 200);
    assert.equal(await (await api(server, 'DELETE', `${path}?cas=${entry.ModifyIndex}`)).json(), false, 'a stale cas deletes nothing');
    assert.equal(await (await api(server, 'DELETE', path)).json(), true);
    assert.equal(await (await api(server, 'DELETE', path)).json(), false);
    assert.equal((await api(server, 'GET', path)).status, 404);
  });

  test('the server validates too: a 400 with every field error; bad names and bodies refused', async () => {
    const bad = await api(server, 'PUT', '/v1/mesh/config/service-defaults/v', { protocol: 'smtp', retries: { num_retries: -1 }, lb: {} });
    assert.equal(bad.status, 400);
    assert.equal(
      await bad.text(),
      'Invalid service-defaults "v": protocol: expected one of tcp, http, http2, grpc, got "smtp"; retries.num_retries: expected a whole number ≥ 0, got -1; lb: unknown key, did you mean load_balancer?\n',
    );
    assert.equal((await api(server, 'PUT', '/v1/mesh/config/service-defaults/v')).status, 400, 'no body');
    assert.equal((await api(server, 'PUT', '/v1/mesh/config/service-defaults/v', '{"protocol":')).status, 400, 'not JSON');
    assert.equal((await api(server, 'PUT', '/v1/mesh/config/service-defaults/v?cas=x', {})).status, 400);
    assert.equal((await api(server, 'PUT', `/v1/mesh/config/service-defaults/${'a'.repeat(65)}`, {})).status, 400);
    assert.equal((await api(server, 'PUT', '/v1/mesh/config/service-defaults/web_1', {})).status, 400);
    assert.equal((await api(server, 'GET', '/v1/mesh/config/service-defaults/v')).status, 404, 'nothing was stored');
  });
});

describe('set against a scripted server', () => {
  /** Answers GETs with the entries given, one per GET, and PUTs with the statuses given; records every request. */
  async function scripted(entries: Array<{ Config: unknown; ModifyIndex: number }>, putStatuses: number[]) {
    const requests: Array<{ method: string; url: string; body: string }> = [];
    const http = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      const entry = req.method === 'GET' ? entries.shift() : undefined;
      const status = req.method === 'PUT' ? (putStatuses.shift() ?? 500) : entry ? 200 : 404;
      const reply = status === 200 ? JSON.stringify({ Kind: 'service-defaults', Name: 'web', CreateIndex: 1, ...(entry ?? { Config: JSON.parse(body || '{}'), ModifyIndex: 99 }) }) : 'Check-and-set failed\n';
      res.writeHead(status, { 'Content-Type': status === 200 ? 'application/json' : 'text/plain' }).end(reply);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return { address: `127.0.0.1:${(http.address() as AddressInfo).port}`, requests, close: () => new Promise((resolve) => http.close(resolve)) };
  }

  test('a lost check-and-set is read again and applied once more on top of the other write', async () => {
    const stub = await scripted([{ Config: { protocol: 'http' }, ModifyIndex: 5 }, { Config: { protocol: 'http', mtls_mode: 'permissive' }, ModifyIndex: 6 }], [409, 200]);
    try {
      const r = await meshctlAsync(['config', 'set', 'service-defaults', 'web', 'retries.num_retries=4'], stub.address);
      assert.equal(r.code, 0, r.stderr);
      const puts = stub.requests.filter((q) => q.method === 'PUT');
      assert.deepEqual(puts.map((q) => q.url), ['/v1/mesh/config/service-defaults/web?cas=5', '/v1/mesh/config/service-defaults/web?cas=6']);
      assert.deepEqual(JSON.parse(puts[1]!.body), { protocol: 'http', mtls_mode: 'permissive', retries: { num_retries: 4 } }, 'the other write is kept');
    } finally {
      await stub.close();
    }
  });

  test('a second lost check-and-set gives up: exit 1, nothing more written', async () => {
    const stub = await scripted([{ Config: {}, ModifyIndex: 5 }, { Config: {}, ModifyIndex: 6 }], [409, 409]);
    try {
      const r = await meshctlAsync(['config', 'set', 'service-defaults', 'web', 'protocol=http'], stub.address);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /service-defaults web kept changing while this set was applied; nothing was written \(run the command again\)/);
      assert.equal(stub.requests.filter((q) => q.method === 'PUT').length, 2);
    } finally {
      await stub.close();
    }
  });
});
