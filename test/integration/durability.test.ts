// kill -9 in the middle of a stream of writes: every write that was answered
// 200 is there after a restart, and indexes keep increasing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, removeDir, startServer, waitFor } from '../helpers/server.ts';

test('kill -9 during a stream of writes loses no acknowledged write', async (t) => {
  const first = await startServer();
  t.after(async () => {
    await first.kill9();
    removeDir(first.dataDir);
  });
  const acknowledged = new Map<string, string>();
  let highestIndex = 0;
  let crashed = false;
  const writer = async (id: number) => {
    for (let i = 0; !crashed; i++) {
      const key = `stream/w${id}/k${i}`;
      const value = `value-${id}-${i}`;
      try {
        const res = await api(first, 'PUT', `/v1/kv/${key}`, value);
        if (res.status === 200 && (await res.text()) === 'true') acknowledged.set(key, value);
      } catch {
        return; // the connection died with the server: not acknowledged
      }
    }
  };
  const writers = Array.from({ length: 8 }, (_, i) => writer(i));
  // A catalog write too, so both kinds of record are in the stream.
  await waitFor(() => acknowledged.size >= 300, 20_000, '300 acknowledged writes');
  const index = await api(first, 'GET', '/v1/kv/stream?recurse');
  highestIndex = Number(index.headers.get('x-consul-index'));
  await first.kill9();
  crashed = true;
  await Promise.all(writers);
  assert.ok(acknowledged.size >= 300);

  const second = await startServer({ dataDir: first.dataDir });
  t.after(() => second.stop());
  const res = await api(second, 'GET', '/v1/kv/stream?recurse');
  assert.equal(res.status, 200);
  const stored = new Map(((await res.json()) as Array<{ Key: string; Value: string }>).map((e) => [e.Key, Buffer.from(e.Value, 'base64').toString()]));
  const lost = [...acknowledged].filter(([key, value]) => stored.get(key) !== value);
  assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged writes were lost`);

  const after = await api(second, 'PUT', '/v1/kv/after-restart', 'x');
  assert.equal(after.status, 200);
  const read = await api(second, 'GET', '/v1/kv/after-restart');
  const newIndex = Number(read.headers.get('x-consul-index'));
  assert.ok(newIndex > highestIndex, `the index keeps increasing after the restart (${newIndex} > ${highestIndex})`);
});
