// The npm `consul` client (silas/node-consul), unmodified, against a real
// `meshctl server` process: the agent and the tests use this client.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Consul from 'consul';
import { removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';

// The client's typings demand fields Consul itself does not (a TTL check's name
// and timeout), so registrations go through this cast; the wire body is as written.
type Registration = Exclude<Parameters<Consul["agent"]["service"]["register"]>[0], string>;
const registration = (body: object) => body as unknown as Registration;

let server: ServerProcess;
let consul: Consul;

before(async () => {
  server = await startServer();
  consul = new Consul({ host: '127.0.0.1', port: server.port, defaults: { token: server.token } });
});

after(async () => {
  consul?.destroy();
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

test('register a service with a TTL check, pass it, and find it with health ?passing', async () => {
  await consul.agent.service.register(registration({
    name: 'web',
    id: 'web-1',
    port: 8080,
    tags: ['v1', 'primary'],
    meta: { version: '1.0' },
    check: { ttl: '30s', name: 'heartbeat' },
  }));
  const before = await consul.health.service({ service: 'web', passing: true });
  assert.deepEqual(before, [], 'a new TTL check starts critical, so the instance is not passing yet');
  await consul.agent.check.pass({ id: 'service:web-1', note: 'all good' });
  const entries = (await consul.health.service({ service: 'web', passing: true })) as Array<{
    Service: { ID: string; Port: number; Tags: string[]; Meta: Record<string, string> };
    Checks: Array<{ CheckID: string; Status: string; Output: string }>;
  }>;
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.Service.ID, 'web-1');
  assert.equal(entries[0]!.Service.Port, 8080);
  assert.deepEqual(entries[0]!.Service.Tags, ['v1', 'primary']);
  assert.deepEqual(entries[0]!.Service.Meta, { version: '1.0' });
  const ttl = entries[0]!.Checks.find((c) => c.CheckID === 'service:web-1');
  assert.equal(ttl?.Status, 'passing');
  assert.equal(ttl?.Output, 'all good');
  assert.ok(entries[0]!.Checks.some((c) => c.CheckID === 'serfHealth'), 'the node health check is listed, as in Consul');

  const services = await consul.catalog.service.list();
  assert.deepEqual(services, { web: ['primary', 'v1'] });
  const agentServices = (await consul.agent.service.list()) as Record<string, { Service: string }>;
  assert.equal(agentServices['web-1']?.Service, 'web');
});

test('kv set, get, keys and delete', async () => {
  assert.equal(await consul.kv.set('app/config/level', 'debug'), true);
  assert.equal(await consul.kv.set({ key: 'app/config/other', value: 'x', flags: 42 }), true);
  const got = (await consul.kv.get('app/config/level')) as { Key: string; Value: string; Flags: number; ModifyIndex: number };
  assert.equal(got.Key, 'app/config/level');
  assert.equal(got.Value, 'debug');
  // The client turns Consul's `false` into undefined; either way the write must not happen.
  assert.notEqual(await consul.kv.set({ key: 'app/config/level', value: 'info', cas: got.ModifyIndex + 1000 }), true, 'a stale cas loses');
  assert.equal(((await consul.kv.get('app/config/level')) as { Value: string }).Value, 'debug');
  assert.equal(await consul.kv.set({ key: 'app/config/level', value: 'info', cas: got.ModifyIndex }), true);
  assert.deepEqual(await consul.kv.keys('app/'), ['app/config/level', 'app/config/other']);
  const other = (await consul.kv.get('app/config/other')) as { Flags: number };
  assert.equal(other.Flags, 42);
  assert.equal(await consul.kv.get('app/missing'), undefined, 'a missing key is undefined, not an error');
  await consul.kv.del('app/config/other');
  assert.deepEqual(await consul.kv.keys('app/'), ['app/config/level']);
});

test('a watch on health.service sees a new instance and a check going critical', async (t) => {
  await consul.agent.service.register(registration({ name: 'api', id: 'api-1', port: 9000, check: { ttl: '30s', status: 'passing' } }));
  const watch = consul.watch({ method: consul.health.service, options: { service: 'api', passing: true, wait: '10s' } as never });
  t.after(() => watch.end());
  const seen: number[] = [];
  const errors: Error[] = [];
  watch.on('change', (data: unknown[]) => seen.push(data.length));
  watch.on('error', (error: Error) => errors.push(error));
  await waitFor(() => seen.length >= 1, 10_000, 'the first watch result');
  assert.equal(seen.at(-1), 1);
  await consul.agent.service.register(registration({ name: 'api', id: 'api-2', port: 9001, check: { ttl: '30s', status: 'passing' } }));
  await waitFor(() => seen.at(-1) === 2, 10_000, 'the watch to see api-2');
  await consul.agent.check.fail({ id: 'service:api-1', note: 'down' });
  await waitFor(() => seen.at(-1) === 1, 10_000, 'the watch to drop the failing api-1');
  assert.deepEqual(errors, []);
});

test('a watch on kv.get sees each change', async (t) => {
  await consul.kv.set('watched/key', 'one');
  const watch = consul.watch({ method: consul.kv.get, options: { key: 'watched/key', wait: '10s' } });
  t.after(() => watch.end());
  const values: string[] = [];
  watch.on('change', (data: { Value: string } | undefined) => values.push(data?.Value ?? '<deleted>'));
  await waitFor(() => values.includes('one'), 10_000, 'the first value');
  await consul.kv.set('watched/key', 'two');
  await waitFor(() => values.includes('two'), 10_000, 'the second value');
});

test('a bad token is refused with 403', async () => {
  const stranger = new Consul({ host: '127.0.0.1', port: server.port, defaults: { token: '00000000-0000-0000-0000-000000000000' } });
  try {
    await assert.rejects(stranger.kv.set('x', 'y'), (error: Error & { statusCode?: number }) => error.statusCode === 403);
  } finally {
    stranger.destroy();
  }
});
