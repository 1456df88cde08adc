import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instancesInStore, instancesOf, removeNode, removeService, setCheckStatus, upsertCheck, upsertNode, upsertService } from '../../src/control/catalog/catalog.ts';
import { topics } from '../../src/control/catalog/keys.ts';
import type { CheckRecord, NodeRecord, ServiceRecord } from '../../src/control/catalog/types.ts';
import { SqliteStore } from '../../src/control/store/sqlite-store.ts';

const node = (name: string, address = '10.0.0.1'): NodeRecord => ({ ID: '', Node: name, Address: address, Datacenter: 'dc1', TaggedAddresses: {}, Meta: {} });
const service = (id: string, name: string, tags: string[] = []): ServiceRecord => ({
  Kind: '', ID: id, Service: name, Tags: tags, Address: '', Port: 80, SocketPath: '', TaggedAddresses: {}, Meta: {},
  Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Proxy: null, Connect: null,
});
const check = (nodeName: string, id: string, serviceId: string, status: CheckRecord['Status'] = 'passing'): CheckRecord => ({
  Node: nodeName, CheckID: id, Name: id, Status: status, Notes: '', Output: '', ServiceID: serviceId, Type: 'ttl', Definition: {},
});

function fixture(t: { after: (fn: () => void) => void }) {
  const store = new SqliteStore({ path: ':memory:' });
  t.after(() => store.close());
  const index = (topic: string) => store.topicIndex({ exact: [topic] });
  return { store, index };
}

test('registering a service moves the indexes of that service, its node and the service list only', async (t) => {
  const { store, index } = fixture(t);
  await store.transact((txn) => {
    upsertNode(txn, node('n1'));
    upsertService(txn, 'n1', service('db', 'db'));
  });
  const before = { db: index(topics.service('db')), nodes: index(topics.nodes) };
  const { revision } = await store.transact((txn) => upsertService(txn, 'n1', service('web-1', 'web')));
  assert.equal(index(topics.service('web')), revision);
  assert.equal(index(topics.node('n1')), revision);
  assert.equal(index(topics.services), revision);
  assert.equal(index(topics.service('db')), before.db, 'db watchers are not woken by web');
  assert.equal(index(topics.nodes), before.nodes, 'the node list did not change');
});

test('re-registering an identical record writes nothing and wakes nobody', async (t) => {
  const { store } = fixture(t);
  await store.transact((txn) => {
    upsertNode(txn, node('n1'));
    upsertService(txn, 'n1', service('web-1', 'web'));
    upsertCheck(txn, check('n1', 'c1', 'web-1'));
  });
  const revision = store.revision;
  const again = await store.transact((txn) => {
    upsertNode(txn, node('n1'));
    upsertService(txn, 'n1', service('web-1', 'web'));
    setCheckStatus(txn, 'n1', 'c1', 'passing', '');
  });
  assert.equal(again.changed, false);
  assert.equal(store.revision, revision);
});

test('a node-level check or a node address change wakes every service on that node', async (t) => {
  const { store, index } = fixture(t);
  await store.transact((txn) => {
    upsertNode(txn, node('n1'));
    upsertNode(txn, node('n2', '10.0.0.2'));
    upsertService(txn, 'n1', service('a', 'a'));
    upsertService(txn, 'n1', service('b', 'b'));
    upsertService(txn, 'n2', service('c', 'c'));
  });
  const cBefore = index(topics.service('c'));
  const { revision } = await store.transact((txn) => upsertCheck(txn, check('n1', 'serfHealth', '', 'critical')));
  assert.equal(index(topics.service('a')), revision);
  assert.equal(index(topics.service('b')), revision);
  assert.equal(index(topics.service('c')), cBefore);
  const moved = await store.transact((txn) => upsertNode(txn, node('n1', '10.0.0.9')));
  assert.equal(index(topics.service('a')), moved.revision);
  assert.equal(index(topics.nodes), moved.revision);
});

test('removing a service removes its checks; removing a node removes everything on it', async (t) => {
  const { store, index } = fixture(t);
  await store.transact((txn) => {
    upsertNode(txn, node('n1'));
    upsertService(txn, 'n1', service('web-1', 'web'));
    upsertCheck(txn, check('n1', 'c1', 'web-1'));
    upsertCheck(txn, check('n1', 'serfHealth', ''));
  });
  const removed = await store.transact((txn) => removeService(txn, 'n1', 'web-1'));
  assert.equal(removed.result, true);
  assert.equal(index(topics.service('web')), removed.revision, 'the deletion moves the index forward');
  assert.deepEqual(store.list('catalog/check/').map((e) => (e.value as CheckRecord).CheckID), ['serfHealth']);
  assert.deepEqual(instancesOf(store, 'web'), []);
  await store.transact((txn) => removeNode(txn, 'n1'));
  assert.deepEqual(store.list('catalog/'), []);
});

test('instances of a service come from every node, names with slashes included', async (t) => {
  const { store } = fixture(t);
  await store.transact((txn) => {
    upsertNode(txn, node('rack/1'));
    upsertNode(txn, node('n2'));
    upsertService(txn, 'rack/1', service('web/1', 'web'));
    upsertService(txn, 'n2', service('web-2', 'web'));
    upsertService(txn, 'n2', service('api-1', 'api'));
  });
  const found = instancesOf(store, 'web').map((i) => `${i.node.value.Node}:${i.service.value.ID}`);
  assert.deepEqual(found.sort(), ['n2:web-2', 'rack/1:web/1']);
});

test('instancesInStore answers as instancesOf does, and follows every change', async (t) => {
  const { store } = fixture(t);
  const ids = () => instancesInStore(store, 'web').map((i) => i.service.value.ID);
  await store.transact((txn) => {
    upsertNode(txn, node('n1'));
    upsertService(txn, 'n1', service('web-1', 'web'));
  });
  assert.deepEqual(ids(), ['web-1']);
  assert.deepEqual(ids(), instancesOf(store, 'web').map((i) => i.service.value.ID));
  await store.transact((txn) => {
    upsertNode(txn, node('n2'));
    upsertService(txn, 'n2', service('web-2', 'web'));
  });
  assert.deepEqual(ids(), ['web-1', 'web-2']);
  await store.transact((txn) => removeService(txn, 'n1', 'web-1'));
  assert.deepEqual(ids(), ['web-2']);
  await store.transact((txn) => removeNode(txn, 'n2'));
  assert.deepEqual(ids(), []);
});
