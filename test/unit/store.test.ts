import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../../src/control/store/sqlite-store.ts';

function tempDb(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'store.db');
}

test('each committed transaction gets the next revision, kept across a reopen', async (t) => {
  const path = tempDb(t);
  const store = new SqliteStore({ path });
  const a = await store.transact((txn) => txn.put('k/a', { v: 1 }));
  const b = await store.transact((txn) => txn.put('k/b', { v: 2 }));
  assert.equal(b.revision, a.revision + 1);
  const c = await store.transact((txn) => txn.put('k/a', { v: 3 }));
  assert.deepEqual(store.get('k/a'), { key: 'k/a', value: { v: 3 }, createRevision: a.revision, modRevision: c.revision });
  store.close();
  const reopened = new SqliteStore({ path });
  t.after(() => reopened.close());
  assert.equal(reopened.revision, c.revision);
  assert.deepEqual(reopened.get('k/a')?.value, { v: 3 });
  const d = await reopened.transact((txn) => txn.put('k/c', 1));
  assert.equal(d.revision, c.revision + 1, 'revisions keep increasing after a restart');
});

test('a transaction that throws leaves nothing behind and does not harm its batch neighbours', async (t) => {
  const store = new SqliteStore({ path: tempDb(t) });
  t.after(() => store.close());
  const good1 = store.transact((txn) => txn.put('a', 1));
  const bad = store.transact((txn) => {
    txn.put('b', 2);
    throw new Error('validation failed');
  });
  const good2 = store.transact((txn) => txn.put('c', 3));
  const [r1, r2, r3] = await Promise.allSettled([good1, bad, good2]);
  assert.equal(r1.status, 'fulfilled');
  assert.equal(r2.status, 'rejected');
  assert.equal(r3.status, 'fulfilled');
  assert.equal(store.get('b'), undefined);
  assert.deepEqual(store.list('').map((e) => e.key), ['a', 'c']);
});

test('a transaction that writes nothing does not consume a revision', async (t) => {
  const store = new SqliteStore({ path: ':memory:' });
  t.after(() => store.close());
  await store.transact((txn) => txn.put('a', 1));
  const before = store.revision;
  const result = await store.transact((txn) => txn.get('a'));
  assert.equal(result.changed, false);
  assert.equal(store.revision, before);
});

test('topic indexes move on put and on delete (tombstones), exact and by prefix', async (t) => {
  const store = new SqliteStore({ path: ':memory:' });
  t.after(() => store.close());
  const { revision: r1 } = await store.transact((txn) => txn.put('kv/app/a', 1));
  await store.transact((txn) => txn.put('kv/other', 1));
  assert.equal(store.topicIndex({ exact: ['kv/app/a'] }), r1);
  assert.equal(store.topicIndex({ prefixes: ['kv/app/'] }), r1);
  const { revision: r3 } = await store.transact((txn) => txn.delete('kv/app/a'));
  assert.equal(store.topicIndex({ prefixes: ['kv/app/'] }), r3, 'a delete moves the prefix index forward');
  assert.equal(store.topicIndex({ exact: ['never'] }), 0);
});

test('a waiter wakes on a change to its topic and not on others', async (t) => {
  const store = new SqliteStore({ path: ':memory:' });
  t.after(() => store.close());
  await store.transact((txn) => txn.touch('t/service/a'));
  const index = store.topicIndex({ exact: ['t/service/a'] });
  let bWoke = false;
  const waitA = store.waitForChange({ exact: ['t/service/a'] }, index, 5000);
  const waitB = store.waitForChange({ exact: ['t/service/b'] }, 0, 200).then((changed) => (bWoke = changed));
  await store.transact((txn) => txn.touch('t/service/a'));
  assert.equal(await waitA, true);
  await waitB;
  assert.equal(bWoke, false, 'a watcher of b stayed asleep');
});

test('a wait times out with false, and an aborted wait ends at once', async (t) => {
  const store = new SqliteStore({ path: ':memory:' });
  t.after(() => store.close());
  assert.equal(await store.waitForChange({ exact: ['x'] }, 0, 30), false);
  const controller = new AbortController();
  const pending = store.waitForChange({ exact: ['x'] }, 0, 60_000, controller.signal);
  controller.abort();
  assert.equal(await pending, false);
});

test('a second store on the same file is refused with a data-dir error', async (t) => {
  const path = tempDb(t);
  const first = new SqliteStore({ path });
  t.after(() => first.close());
  assert.throws(() => new SqliteStore({ path }), (error: Error & { code?: string }) => error.code === 'MESH_E_DATA_DIR');
});

test('list() stays exact across puts, deletes and rolled-back transactions (its per-prefix cache follows every change)', async (t) => {
  const store = new SqliteStore({ path: ':memory:' });
  t.after(() => store.close());
  const keys = (prefix: string) => store.list(prefix).map((e) => e.key);
  await store.transact((txn) => {
    txn.put('a/1', 1);
    txn.put('b/1', 1);
  });
  assert.deepEqual(keys('a/'), ['a/1']);
  assert.deepEqual(keys('b/'), ['b/1']);
  const mutated = store.list('a/');
  mutated.pop();
  assert.deepEqual(keys('a/'), ['a/1'], 'a caller changing its result does not change the next one');
  await store.transact((txn) => {
    txn.put('a/0', 0);
    assert.deepEqual(txn.list('a/').map((e) => e.key), ['a/0', 'a/1'], 'a transaction reads its own writes');
  });
  assert.deepEqual(keys('a/'), ['a/0', 'a/1']);
  await store.transact((txn) => txn.put('a/1', 2));
  assert.equal(store.list<number>('a/')[1]?.value, 2, 'an update is seen');
  let inside: string[] = [];
  await assert.rejects(
    store.transact((txn) => {
      txn.delete('a/0');
      txn.put('a/2', 2);
      inside = txn.list('a/').map((e) => e.key);
      throw new Error('rolled back');
    }),
    /rolled back/,
  );
  assert.deepEqual(inside, ['a/1', 'a/2']);
  assert.deepEqual(keys('a/'), ['a/0', 'a/1'], 'a rolled-back transaction leaves no trace in list()');
  await store.transact((txn) => txn.delete('a/0'));
  assert.deepEqual(keys('a/'), ['a/1']);
  assert.deepEqual(keys(''), ['a/1', 'b/1']);
});
