// The agents' metrics entry (meshctl-agent) is the one service every agent
// token may write, and only on the node that token may write. On a real
// server: an agent token may not put it on the server's own node through
// /v1/agent/* (which would hand Prometheus an address of the token holder's
// choosing), nor remove it or hang checks on it there, nor write it on
// another host's node through the catalog.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
let host2 = '';
let reader = '';

async function makeToken(body: unknown): Promise<string> {
  const res = await api(server, 'PUT', '/v1/acl/token', body);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { SecretID: string }).SecretID;
}
const as = (token: string) => ({ url: server.url, token });
const targets = async (): Promise<string[]> => {
  const res = await api(as(reader), 'GET', '/v1/mesh/prometheus/targets');
  assert.equal(res.status, 200);
  return ((await res.json()) as Array<{ targets: string[] }>).flatMap((g) => g.targets);
};
const entry = (address: string, id = 'meshctl-agent') => ({ Name: 'meshctl-agent', ID: id, Address: address, Port: 15090, Meta: { metrics_path: '/metrics' } });
/** The same entry as the catalog API spells it. */
const catalogEntry = (address: string) => {
  const { Name, ...rest } = entry(address);
  return { Service: Name, ...rest };
};

before(async () => {
  server = await startServer();
  host2 = await makeToken({ NodeIdentities: [{ NodeName: 'host-2' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  reader = await makeToken({ Policies: [{ Name: 'global-read-only' }] });
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

test("an agent token cannot register meshctl-agent on the server's node through /v1/agent/service/register", async () => {
  const res = await api(as(host2), 'PUT', '/v1/agent/service/register', { ...entry('169.254.169.254'), Port: 80, Meta: { metrics_path: '/latest/meta-data' } });
  assert.equal(res.status, 403, await res.text());
  assert.deepEqual(await targets(), [], 'Prometheus is handed no target');
});

test('an agent token still registers meshctl-agent on its own node through the catalog, and not on another node', async () => {
  const own = await api(as(host2), 'PUT', '/v1/catalog/register', { Node: 'host-2', Address: '10.0.0.2', Service: catalogEntry('10.0.0.2') });
  assert.equal(own.status, 200, await own.text());
  assert.deepEqual(await targets(), ['10.0.0.2:15090']);
  const other = await api(as(host2), 'PUT', '/v1/catalog/register', { Node: 'host-1', Address: '10.0.0.1', Service: catalogEntry('10.0.0.1') });
  assert.equal(other.status, 403, await other.text());
  const remove = await api(as(host2), 'PUT', '/v1/catalog/deregister', { Node: 'host-2', ServiceID: 'meshctl-agent' });
  assert.equal(remove.status, 200, await remove.text());
  assert.deepEqual(await targets(), []);
});

test("an agent token can neither deregister nor add checks to the server node's meshctl-agent entry", async () => {
  const put = await api(server, 'PUT', '/v1/agent/service/register', entry('127.0.0.1', 'server-metrics'));
  assert.equal(put.status, 200, 'the management token may write the server node');
  const dereg = await api(as(host2), 'PUT', '/v1/agent/service/deregister/server-metrics');
  assert.equal(dereg.status, 403, await dereg.text());
  const check = await api(as(host2), 'PUT', '/v1/agent/check/register', { Name: 'evil', ServiceID: 'server-metrics', TTL: '10s' });
  assert.equal(check.status, 403, await check.text());
  const checks = await api(server, 'GET', '/v1/agent/checks');
  assert.deepEqual(Object.keys((await checks.json()) as object).filter((id) => id === 'evil'), []);
  assert.deepEqual(await targets(), ['127.0.0.1:15090'], 'the entry is still there');
});
