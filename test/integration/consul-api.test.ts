// The Consul-compatible API's contract, against a real server process:
// tokens, validation, blocking queries and node health.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { api, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { cliFor } from '../helpers/cli.ts';

let server: ServerProcess;
const anonymous = () => ({ url: server.url, token: '' });
const cli = cliFor(() => server);

before(async () => {
  server = await startServer({ extraArgs: ['--reap-interval', '200ms'] });
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

async function makeToken(body: unknown): Promise<string> {
  const res = await api(server, 'PUT', '/v1/acl/token', body);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { SecretID: string }).SecretID;
}

const register = (who: { url: string; token: string }, node: string, service?: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  api(who, 'PUT', '/v1/catalog/register', { Node: node, Address: '127.0.0.1', ...(service ? { Service: service } : {}), ...extra });

describe('tokens', () => {
  test('are accepted as X-Consul-Token, Authorization: Bearer and ?token=', async () => {
    const headers = [{ 'X-Consul-Token': server.token }, { Authorization: `Bearer ${server.token}` }];
    for (const h of headers) assert.equal((await fetch(`${server.url}/v1/kv/t?keys`, { headers: h })).status, 404);
    assert.equal((await fetch(`${server.url}/v1/kv/t?keys&token=${server.token}`)).status, 404);
  });

  test('anonymous writes are refused and unknown tokens get 403 ACL not found', async () => {
    const anon = await api(anonymous(), 'PUT', '/v1/kv/x', 'y');
    assert.equal(anon.status, 403);
    assert.match(await anon.text(), /Permission denied: anonymous token lacks permission 'key:write'/);
    const unknown = await api({ url: server.url, token: 'nope' }, 'GET', '/v1/catalog/services');
    assert.equal(unknown.status, 403);
    assert.equal((await unknown.text()).trim(), 'ACL not found');
  });

  test('an agent token registers only its node and its named services', async () => {
    const agent = { url: server.url, token: await makeToken({ NodeIdentities: [{ NodeName: 'host-a' }], ServiceIdentities: [{ ServiceName: 'web' }] }) };
    assert.equal((await register(agent, 'host-a', { Service: 'web', Port: 80 })).status, 200);
    const otherService = await register(agent, 'host-a', { Service: 'db', Port: 5432 });
    assert.equal(otherService.status, 403);
    assert.match(await otherService.text(), /'service:write' on "db"/);
    assert.equal((await register(agent, 'host-b', { Service: 'web', Port: 80 })).status, 403);
    assert.equal((await api(agent, 'PUT', '/v1/kv/x', 'y')).status, 403, 'agents do not write KV');
    assert.equal((await api(agent, 'GET', '/v1/health/service/db')).status, 200, 'agents read the catalog');
  });

  test('a read-only token reads and cannot write; tokens can be listed and revoked', async () => {
    const secret = await makeToken({ Policies: [{ Name: 'global-read-only' }], Description: 'prometheus' });
    const reader = { url: server.url, token: secret };
    assert.equal((await api(reader, 'GET', '/v1/catalog/services')).status, 200);
    assert.equal((await api(reader, 'PUT', '/v1/kv/x', 'y')).status, 403);
    const list = (await (await api(server, 'GET', '/v1/acl/tokens')).json()) as Array<{ AccessorID: string; Description: string; SecretID?: string }>;
    const mine = list.find((t) => t.Description === 'prometheus');
    assert.ok(mine);
    assert.equal(mine.SecretID, undefined, 'secrets are never listed');
    assert.equal(await (await api(server, 'DELETE', `/v1/acl/token/${mine.AccessorID}`)).json(), true);
    assert.equal((await api(reader, 'GET', '/v1/catalog/services')).status, 403, 'a revoked token stops working');
  });
});

test('lists ACLs trimmed say so (X-Consul-Results-Filtered-By-ACLs), and meshctl services and nodes warn that they are partial', async () => {
  const agent = { url: server.url, token: await makeToken({ NodeIdentities: [{ NodeName: 'host-f' }], ServiceIdentities: [{ ServiceName: 'filtered' }] }) };
  assert.equal((await register(agent, 'host-f', { Service: 'filtered', Port: 80 })).status, 200);
  for (const path of ['/v1/catalog/services', '/v1/catalog/nodes', '/v1/health/state/any']) {
    const trimmed = await api(anonymous(), 'GET', path);
    assert.equal(trimmed.status, 200, path);
    assert.equal(trimmed.headers.get('x-consul-results-filtered-by-acls'), 'true', `${path}, anonymous`);
    const whole = await api(server, 'GET', path);
    assert.equal(whole.headers.get('x-consul-results-filtered-by-acls'), null, `${path}, management`);
  }
  for (const command of ['services', 'nodes']) {
    const partial = cli.run([command], '');
    assert.equal(partial.code, 0, partial.stderr);
    assert.match(partial.stderr, new RegExp(`the server left out ${command} this token may not read: give one that may \\(--token or MESHCTL_TOKEN`));
    const full = cli.run([command]);
    assert.equal(full.stderr, '', `${command} with the management token: no warning`);
    assert.match(full.stdout, command === 'services' ? /filtered/ : /host-f/);
  }
});

describe('validation', () => {
  test('bad JSON gets 400 with the reason and stores nothing', async () => {
    const before = await api(server, 'GET', '/v1/catalog/services');
    const res = await api(server, 'PUT', '/v1/agent/service/register', '{"Name": "broken",');
    assert.equal(res.status, 400);
    assert.match(await res.text(), /Request decode failed/);
    const wrongType = await api(server, 'PUT', '/v1/agent/service/register', { Name: 'broken', Port: 'eighty' });
    assert.equal(wrongType.status, 400);
    assert.match(await wrongType.text(), /Port: expected an integer/);
    const missing = await api(server, 'PUT', '/v1/catalog/register', { Node: 'n', Address: '127.0.0.1', Service: { Port: 1 } });
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /Missing service name/);
    const afterRes = await api(server, 'GET', '/v1/catalog/services');
    assert.deepEqual(await afterRes.json(), await before.json());
    assert.equal(afterRes.headers.get('x-consul-index'), before.headers.get('x-consul-index'), 'nothing was written');
  });

  test('a KV value over 512 KiB gets 413 and is not stored', async () => {
    const res = await api(server, 'PUT', '/v1/kv/big', 'x'.repeat(512 * 1024 + 1));
    assert.equal(res.status, 413);
    assert.match(await res.text(), /too large/);
    assert.equal((await api(server, 'PUT', '/v1/kv/big', 'x'.repeat(512 * 1024))).status, 200, 'exactly 512 KiB fits');
    assert.equal((await api(server, 'GET', '/v1/kv/big?raw')).headers.get('content-length'), String(512 * 1024));
  });

  test('the server survives malformed HTTP and keeps answering', async () => {
    const garbage = [
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n',
      'GET /v1/kv/a\0 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n',
      '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03',
      'GET /v1/kv/%zz HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    for (const payload of garbage) {
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => socket.end(payload));
        let data = '';
        socket.on('data', (d) => (data += d.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
      });
      assert.match(answer, /^HTTP\/1\.1 4\d\d/, `refused: ${JSON.stringify(payload.slice(0, 30))}`);
    }
    assert.equal((await api(server, 'GET', '/v1/status/leader')).status, 200);
  });
});

describe('blocking queries', () => {
  test('X-Consul-Index is never 0, also on a 404', async () => {
    const res = await api(server, 'GET', '/v1/kv/never-written');
    assert.equal(res.status, 404);
    assert.ok(Number(res.headers.get('x-consul-index')) >= 1);
    assert.equal(res.headers.get('x-consul-knownleader'), 'true');
  });

  test('a wait that runs out answers 200 with the same index; bad wait or index is 400', async () => {
    const first = await api(server, 'GET', '/v1/health/service/quiet');
    const index = first.headers.get('x-consul-index');
    const started = Date.now();
    const res = await api(server, 'GET', `/v1/health/service/quiet?index=${index}&wait=300ms`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-consul-index'), index);
    assert.deepEqual(await res.json(), []);
    assert.ok(Date.now() - started >= 290, 'it waited');
    assert.equal((await api(server, 'GET', '/v1/health/service/quiet?index=1&wait=30')).status, 400, 'a wait without a unit is refused, as Go does');
    assert.match(await (await api(server, 'GET', '/v1/health/service/quiet?index=-1')).text(), /Invalid index/);
  });

  test('a change to service A wakes A watchers and not B watchers', async () => {
    await register(server, 'block-node', { Service: 'svc-a', ID: 'a1', Port: 1 });
    await register(server, 'block-node-2', { Service: 'svc-b', ID: 'b1', Port: 2 });
    const indexOf = async (name: string) => Number((await api(server, 'GET', `/v1/health/service/${name}`)).headers.get('x-consul-index'));
    const [ia, ib] = [await indexOf('svc-a'), await indexOf('svc-b')];
    let bReturned = false;
    const watchA = api(server, 'GET', `/v1/health/service/svc-a?index=${ia}&wait=20s`);
    const watchB = api(server, 'GET', `/v1/health/service/svc-b?index=${ib}&wait=2s`).then((r) => {
      bReturned = true;
      return r;
    });
    const started = Date.now();
    await register(server, 'block-node', { Service: 'svc-a', ID: 'a2', Port: 3 });
    const a = await watchA;
    assert.ok(Date.now() - started < 2000, 'A woke on the change');
    assert.ok(Number(a.headers.get('x-consul-index')) > ia);
    assert.equal(((await a.json()) as unknown[]).length, 2);
    assert.equal(bReturned, false, 'B is still waiting');
    const b = await watchB;
    assert.equal(b.headers.get('x-consul-index'), String(ib), 'B timed out with its index unchanged');
  });
});

describe('health', () => {
  test('?passing takes Go booleans and drops instances with a failing check', async () => {
    await register(server, 'hp-1', { Service: 'hp', ID: 'hp-1', Port: 1 }, { Check: { CheckID: 'c1', Status: 'passing', ServiceID: 'hp-1' } });
    await register(server, 'hp-2', { Service: 'hp', ID: 'hp-2', Port: 2 }, { Check: { CheckID: 'c2', Status: 'critical', ServiceID: 'hp-2' } });
    const count = async (query: string) => ((await (await api(server, 'GET', `/v1/health/service/hp${query}`)).json()) as unknown[]).length;
    assert.equal(await count(''), 2);
    for (const q of ['?passing', '?passing=1', '?passing=true']) assert.equal(await count(q), 1, q);
    assert.equal(await count('?passing=false'), 2);
    assert.equal((await api(server, 'GET', '/v1/health/service/hp?passing=maybe')).status, 400);
  });

  test('a node whose agent stops heartbeating drops out of ?passing within two intervals', async () => {
    const intervalMs = 500;
    await register(server, 'beating', { Service: 'hb', ID: 'hb-1', Port: 1 });
    const beat = () => api(server, 'PUT', `/v1/mesh/heartbeat/beating?ttl=${2 * intervalMs}ms`);
    assert.equal((await beat()).status, 200);
    const passing = async () => ((await (await api(server, 'GET', '/v1/health/service/hb?passing')).json()) as unknown[]).length;
    // The server arms the TTL before it answers the heartbeat, so it runs out by armedBy + ttl.
    const armedBy = Date.now();
    assert.equal(await passing(), 1);
    // What can fail the claim is a poll that still saw the node passing although it was sent after the
    // TTL; when the poll that saw it gone came back is no part of it (on a loaded machine a poll and the
    // 50 ms between polls took up to 220 ms, which a bound on that time ran out of).
    let lastPassingSentAt = armedBy;
    await waitFor(async () => {
      const sentAt = Date.now();
      if ((await passing()) === 0) return true;
      lastPassingSentAt = sentAt;
      return false;
    }, 5000, 'the node to leave ?passing');
    assert.ok(lastPassingSentAt - armedBy <= 2 * intervalMs + 300, `still passing in a poll sent ${lastPassingSentAt - armedBy} ms after the heartbeat`);
    assert.equal((await beat()).status, 200);
    assert.equal(await passing(), 1, 'a heartbeat brings it back');
    const members = (await (await api(server, 'GET', '/v1/agent/members')).json()) as Array<{ Name: string; Status: number }>;
    assert.equal(members.find((m) => m.Name === 'beating')?.Status, 1);
  });

  test('a service critical past DeregisterCriticalServiceAfter is removed', async () => {
    const res = await api(server, 'PUT', '/v1/agent/service/register', { Name: 'doomed', Check: { TTL: '10s', DeregisterCriticalServiceAfter: '500ms' } });
    assert.equal(res.status, 200);
    await waitFor(async () => ((await (await api(server, 'GET', '/v1/agent/services')).json()) as Record<string, unknown>).doomed === undefined, 5000, 'the reaper');
  });

  test('lists are [] and never null', async () => {
    const res = await api(server, 'PUT', '/v1/catalog/register', { Node: 'bare', Address: '127.0.0.1', Service: { Service: 'bare' } });
    assert.equal(res.status, 200);
    const [entry] = (await (await api(server, 'GET', '/v1/health/service/bare')).json()) as Array<{ Service: { Tags: unknown }; Checks: unknown }>;
    assert.deepEqual(entry?.Service.Tags, []);
    assert.ok(Array.isArray(entry?.Checks));
    assert.deepEqual(await (await api(server, 'GET', '/v1/health/checks/nothing')).json(), []);
  });
});
