// instanceHealth counts in one pass what /v1/health/service?passing counts per
// service: checked here against that per-instance definition (instancesOf,
// the node's checks, all passing) on hand-made and seeded random catalogs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checksOn, instancesOf, listAllServices, upsertCheck, upsertNode, upsertService } from '../../../src/control/catalog/catalog.ts';
import { allPassing, checksForInstance } from '../../../src/control/catalog/health.ts';
import type { CheckRecord, HealthStatus, ServiceRecord } from '../../../src/control/catalog/types.ts';
import { SqliteStore } from '../../../src/control/store/sqlite-store.ts';
import { instanceHealth } from '../../../src/control/telemetry/instances.ts';

const service = (id: string, name: string): ServiceRecord => ({
  Kind: '', ID: id, Service: name, Tags: [], Address: '', Port: 80, SocketPath: '', TaggedAddresses: {}, Meta: {},
  Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Proxy: null, Connect: null,
});
const check = (node: string, id: string, serviceId: string, status: HealthStatus): CheckRecord => ({
  Node: node, CheckID: id, Name: id, Status: status, Notes: '', Output: '', ServiceID: serviceId, Type: 'ttl', Definition: {},
});

function storeFor(t: { after: (fn: () => void) => void }) {
  const store = new SqliteStore({ path: ':memory:' });
  t.after(() => store.close());
  return store;
}

/** The per-instance definition, one service at a time. */
function expected(store: SqliteStore): Map<string, { healthy: number; total: number }> {
  const out = new Map<string, { healthy: number; total: number }>();
  for (const name of new Set(listAllServices(store).map((s) => s.value.Service))) {
    if (name === 'meshctl-agent') continue;
    const instances = instancesOf(store, name);
    const healthy = instances.filter(({ node, service }) => allPassing(checksForInstance(checksOn(store, node.value.Node).map((c) => c.value), service.value.ID))).length;
    out.set(name, { healthy, total: instances.length });
  }
  return out;
}

test('healthy means every check on the instance and on its node passes; the agents’ own entry is left out', async (t) => {
  const store = storeFor(t);
  await store.transact((txn) => {
    for (const n of ['n1', 'n2']) upsertNode(txn, { ID: '', Node: n, Address: '10.0.0.1', Datacenter: 'dc1', TaggedAddresses: {}, Meta: {} });
    upsertService(txn, 'n1', service('web-1', 'web'));
    upsertService(txn, 'n1', service('web-2', 'web'));
    upsertService(txn, 'n2', service('web-3', 'web'));
    upsertService(txn, 'n1', service('api-1', 'api'));
    upsertService(txn, 'n1', service('meshctl-agent', 'meshctl-agent'));
    upsertCheck(txn, check('n1', 'serfHealth', '', 'passing'));
    upsertCheck(txn, check('n2', 'serfHealth', '', 'critical'));
    upsertCheck(txn, check('n1', 'web-2-ttl', 'web-2', 'warning'));
    upsertCheck(txn, check('n1', 'api-1-ttl', 'api-1', 'passing'));
  });
  assert.deepEqual(instanceHealth(store), new Map([['web', { healthy: 1, total: 3 }], ['api', { healthy: 1, total: 1 }]]));
  assert.deepEqual(instanceHealth(store, 'web'), new Map([['web', { healthy: 1, total: 3 }]]), 'one service asked: that one alone');
  assert.deepEqual(instanceHealth(store, 'nope'), new Map());
});

test('on seeded random catalogs the one pass agrees with the per-instance definition', async (t) => {
  const store = storeFor(t);
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const statuses: HealthStatus[] = ['passing', 'passing', 'passing', 'warning', 'critical'];
  for (let round = 0; round < 5; round++) {
    await store.transact((txn) => {
      for (let n = 0; n < 12; n++) {
        const node = `r${round}-n${n}`;
        upsertNode(txn, { ID: '', Node: node, Address: `10.0.${round}.${n}`, Datacenter: 'dc1', TaggedAddresses: {}, Meta: {} });
        if (random() < 0.7) upsertCheck(txn, check(node, 'serfHealth', '', pick(statuses)));
        for (let s = 0; s < 6; s++) {
          const id = `${node}-s${s}`;
          upsertService(txn, node, service(id, pick(['web', 'api', 'db', 'cache'])));
          for (let c = 0; c < Math.floor(random() * 3); c++) upsertCheck(txn, check(node, `${id}-c${c}`, id, pick(statuses)));
        }
      }
    });
    const want = expected(store);
    assert.ok([...want.values()].some((v) => v.healthy > 0 && v.healthy < v.total), 'the catalog mixes healthy and unhealthy instances');
    assert.deepEqual(instanceHealth(store), want, `round ${round}`);
    for (const name of want.keys()) assert.deepEqual(instanceHealth(store, name), new Map([[name, want.get(name)]]));
  }
});
