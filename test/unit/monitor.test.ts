import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getCheck, getService, upsertCheck, upsertNode, upsertService } from '../../src/control/catalog/catalog.ts';
import { HealthMonitor } from '../../src/control/catalog/monitor.ts';
import type { CheckRecord } from '../../src/control/catalog/types.ts';
import { SqliteStore } from '../../src/control/store/sqlite-store.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { waitFor } from '../helpers/server.ts';

async function setup(t: { after: (fn: () => void) => void }, checkDef: Partial<CheckRecord>) {
  const store = new SqliteStore({ path: ':memory:' });
  const clock = new FakeClock();
  const probes: string[] = [];
  const monitor = new HealthMonitor({
    store,
    clock,
    nodeName: 'srv',
    reapIntervalMs: 30_000,
    probe: async (check) => {
      probes.push(check.CheckID);
      return { status: 'critical', output: 'connection refused' };
    },
  });
  t.after(() => {
    monitor.stop();
    store.close();
  });
  const check: CheckRecord = {
    Node: 'srv', CheckID: 'service:web', Name: 'web', Status: 'passing', Notes: '', Output: 'ok', ServiceID: 'web', Type: 'ttl', Definition: {},
    ...checkDef,
  };
  await store.transact((txn) => {
    upsertNode(txn, { ID: '', Node: 'srv', Address: '127.0.0.1', Datacenter: 'dc1', TaggedAddresses: {}, Meta: {} });
    upsertService(txn, 'srv', {
      Kind: '', ID: 'web', Service: 'web', Tags: [], Address: '', Port: 80, SocketPath: '', TaggedAddresses: {}, Meta: {},
      Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Proxy: null, Connect: null,
    });
    upsertCheck(txn, check);
  });
  monitor.start();
  return { store, clock, monitor, check, probes, status: () => getCheck(store, 'srv', 'service:web')?.value.Status };
}

test('a TTL check goes critical when not refreshed in time, and a refresh restarts its clock', async (t) => {
  const { clock, monitor, check, status } = await setup(t, { Definition: { TTL: '10s' } });
  clock.advance(9_000);
  monitor.track(check); // a pass at 9 s
  clock.advance(9_000);
  assert.equal(status(), 'passing', 'refreshed 9 s ago, still within its TTL');
  clock.advance(1_001);
  await waitFor(() => status() === 'critical', 2000, 'the TTL to expire');
});

test('the reaper removes a service critical for longer than DeregisterCriticalServiceAfter', async (t) => {
  const { store, clock, status } = await setup(t, { Status: 'critical', Definition: { TTL: '10s', DeregisterCriticalServiceAfter: '1m0s' } });
  assert.equal(status(), 'critical');
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  clock.advance(30_000); // the first pass sees it critical
  await tick();
  clock.advance(30_000);
  await tick();
  assert.ok(getService(store, 'srv', 'web'), 'not yet: critical for less than a minute');
  clock.advance(30_000);
  await waitFor(() => getService(store, 'srv', 'web') === undefined, 2000, 'the reaper');
  assert.equal(getCheck(store, 'srv', 'service:web'), undefined, 'its checks went with it');
});

test('HTTP checks on the server node are probed on their interval', async (t) => {
  const { clock, probes, status } = await setup(t, { Type: 'http', Definition: { HTTP: 'http://127.0.0.1:1/health', Interval: '10s', Timeout: '1s' } });
  clock.advance(0);
  await waitFor(() => status() === 'critical', 2000, 'the first probe');
  assert.equal(probes.length, 1);
  clock.advance(10_000);
  await waitFor(() => probes.length === 2, 2000, 'the second probe');
});
