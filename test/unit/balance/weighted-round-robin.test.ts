import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balancer, endpoint, tally } from './helpers.ts';

const sequence = (weights: Array<[string, number]>, n: number, exclude?: ReadonlySet<string>) => {
  const b = balancer('weighted_round_robin');
  b.update(weights.map(([id, w]) => endpoint(id, w)));
  return Array.from({ length: n }, () => b.pick({}, exclude)?.id ?? '-').join('');
};

test('weighted_round_robin interleaves smoothly, as nginx does', () => {
  const table: Array<[Array<[string, number]>, string]> = [
    [[['a', 5], ['b', 1], ['c', 1]], 'aabacaa'], // nginx's own example
    [[['a', 3], ['b', 1]], 'aaba'],
    [[['a', 1], ['b', 1], ['c', 1]], 'abc'],
    [[['a', 2], ['b', 3]], 'babab'],
    [[['a', 0], ['b', 1]], 'ab'], // weight 0 counts as 1
  ];
  for (const [weights, want] of table) {
    const period = want.length;
    assert.equal(sequence(weights, period * 3), want.repeat(3), JSON.stringify(weights));
  }
});

test('weighted_round_robin 3:1 gives exactly 75/25 over a multiple of 4 picks, never 4 heavy in a row', () => {
  const b = balancer('weighted_round_robin');
  b.update([endpoint('heavy', 3), endpoint('light', 1)]);
  const picks = Array.from({ length: 4000 }, () => b.pick({})?.id);
  assert.equal(picks.filter((id) => id === 'heavy').length, 3000);
  assert.equal(picks.filter((id) => id === 'light').length, 1000);
  let run = 0;
  let longest = 0;
  for (const id of picks) {
    run = id === 'heavy' ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  // 3:1 is as smooth as it can be: the heavy one's three picks stay together
  // only across a period boundary (a,a,b,a | a,a,b,a gives runs of 3 at most).
  assert.equal(longest, 3);
});

test('weighted_round_robin gives an excluded endpoint share to the others, by weight', () => {
  const counts = (() => {
    const b = balancer('weighted_round_robin');
    b.update([endpoint('a', 2), endpoint('b', 1), endpoint('c', 5)]);
    return Object.fromEntries(tally(b, 300, new Set(['c'])));
  })();
  assert.deepEqual(counts, { a: 200, b: 100 });
});

test('weighted_round_robin keeps the proportions across an update', () => {
  const b = balancer('weighted_round_robin');
  b.update([endpoint('a', 3), endpoint('b', 1)]);
  tally(b, 2);
  b.update([endpoint('a', 3), endpoint('b', 1), endpoint('c', 2)]);
  tally(b, 6); // settle into the new period
  assert.deepEqual(Object.fromEntries([...tally(b, 600)].sort()), { a: 300, b: 100, c: 200 });
});
