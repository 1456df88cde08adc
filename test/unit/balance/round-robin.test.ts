import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balancer, endpoints, tally } from './helpers.ts';

test('round_robin spreads 3000 picks over 3 endpoints exactly evenly', () => {
  const b = balancer('round_robin');
  b.update(endpoints('a', 'b', 'c'));
  assert.deepEqual(Object.fromEntries(tally(b, 3000)), { a: 1000, b: 1000, c: 1000 });
});

test('round_robin visits endpoints in order, from a random start', () => {
  const starts = new Set<string>();
  for (let seed = 1; seed <= 30; seed++) {
    const b = balancer('round_robin', seed);
    b.update(endpoints('a', 'b', 'c'));
    const seq = Array.from({ length: 6 }, () => b.pick({})?.id).join('');
    assert.ok(['abcabc', 'bcabca', 'cabcab'].includes(seq), seq);
    starts.add(seq[0] ?? '');
  }
  assert.equal(starts.size, 3, 'proxies started together do not all hit the first endpoint');
});

test('round_robin skips excluded endpoints without losing its place', () => {
  const b = balancer('round_robin');
  b.update(endpoints('a', 'b', 'c', 'd'));
  const first = b.pick({})?.id;
  const order = ['a', 'b', 'c', 'd'];
  const after = (id: string | undefined) => order[(order.indexOf(id ?? '') + 1) % 4];
  const next = after(first);
  const skipped = b.pick({}, new Set([next ?? '']))?.id;
  assert.equal(skipped, after(next));
  assert.equal(b.pick({})?.id, after(skipped));
});

test('round_robin keeps going after the set shrinks or grows', () => {
  const b = balancer('round_robin');
  b.update(endpoints('a', 'b', 'c', 'd', 'e'));
  tally(b, 4);
  b.update(endpoints('a', 'b'));
  assert.deepEqual(Object.fromEntries(tally(b, 10)), { a: 5, b: 5 });
  b.update(endpoints('a', 'b', 'c'));
  assert.deepEqual(Object.fromEntries([...tally(b, 9)].sort()), { a: 3, b: 3, c: 3 });
});
