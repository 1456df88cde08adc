import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balancer, endpoints, tally } from './helpers.ts';

test('random is roughly uniform: each of 3 within 3% of a third over 30k picks', () => {
  const b = balancer('random', 2024);
  b.update(endpoints('a', 'b', 'c'));
  const counts = tally(b, 30_000);
  for (const id of ['a', 'b', 'c']) {
    const share = (counts.get(id) ?? 0) / 30_000;
    assert.ok(Math.abs(share - 1 / 3) < 0.03, `${id}: ${share}`);
  }
});

test('random spreads over what is left when some are excluded', () => {
  const b = balancer('random', 5);
  b.update(endpoints('a', 'b', 'c', 'd'));
  const counts = tally(b, 20_000, new Set(['a', 'c']));
  assert.deepEqual([...counts.keys()].sort(), ['b', 'd']);
  assert.ok(Math.abs((counts.get('b') ?? 0) / 20_000 - 0.5) < 0.03);
});
