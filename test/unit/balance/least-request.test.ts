import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balancer, endpoints, tally } from './helpers.ts';

test('least_request picks the endpoint with the fewest requests in flight', () => {
  const table: Array<[string, Record<string, number>, string]> = [
    ['one idle among busy', { a: 3, b: 0, c: 2 }, 'b'],
    ['least of all busy', { a: 5, b: 2, c: 4 }, 'b'],
    ['last in the list', { a: 1, b: 1, c: 0 }, 'c'],
  ];
  for (const [name, inFlight, want] of table) {
    const b = balancer('least_request');
    b.update(endpoints('a', 'b', 'c'));
    for (const [id, n] of Object.entries(inFlight)) for (let i = 0; i < n; i++) b.onStart(id);
    for (let i = 0; i < 20; i++) assert.equal(b.pick({})?.id, want, name);
  }
});

test('least_request breaks ties at random among the least loaded only', () => {
  const b = balancer('least_request');
  b.update(endpoints('a', 'b', 'c', 'd'));
  b.onStart('a');
  b.onStart('a');
  b.onStart('d');
  const counts = tally(b, 3000);
  assert.deepEqual([...counts.keys()].sort(), ['b', 'c']);
  for (const id of ['b', 'c']) assert.ok(Math.abs((counts.get(id) ?? 0) - 1500) < 150, `${id}: ${counts.get(id)}`);
});

test('least_request balances concurrent requests as they start and end', () => {
  const b = balancer('least_request');
  b.update(endpoints('a', 'b', 'c'));
  // 9 long requests land 3 on each; ending two on b makes b the choice.
  const started = Array.from({ length: 9 }, () => {
    const id = b.pick({})?.id ?? '';
    b.onStart(id);
    return id;
  });
  assert.deepEqual([...new Set(started)].sort(), ['a', 'b', 'c']);
  for (const id of ['a', 'b', 'c']) assert.equal(started.filter((s) => s === id).length, 3, id);
  b.onEnd('b', 10, true);
  b.onEnd('b', 10, true);
  assert.equal(b.pick({})?.id, 'b');
});

test('least_request skips an excluded endpoint even when it is the least loaded', () => {
  const b = balancer('least_request');
  b.update(endpoints('a', 'b', 'c'));
  b.onStart('a');
  b.onStart('c');
  b.onStart('c');
  assert.equal(b.pick({}, new Set(['b']))?.id, 'a');
});

test('least_request counts a request that outlived its endpoint leaving and coming back', () => {
  const b = balancer('least_request');
  b.update(endpoints('a', 'b'));
  b.onStart('a');
  b.update(endpoints('b'));
  b.update(endpoints('a', 'b'));
  assert.equal(b.pick({})?.id, 'b', 'a still has a request in flight');
  b.onEnd('a', 10, true);
  b.onStart('b');
  assert.equal(b.pick({})?.id, 'a');
});
