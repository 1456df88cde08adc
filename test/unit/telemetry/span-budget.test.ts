// The span budget: a bucket of one second's worth that refills with time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PerSecondBudget } from '../../../src/lib/per-second.ts';

test('the budget gives one second of spans at once, then refills at its rate, and counts what it refused', () => {
  let now = 10_000;
  const budget = new PerSecondBudget(4, { now: () => now });
  const takes = (n: number) => Array.from({ length: n }, () => budget.take());
  assert.deepEqual(takes(6), [true, true, true, true, false, false], 'the burst is one second of spans');
  assert.equal(budget.refused, 2);
  now += 250;
  assert.deepEqual(takes(2), [true, false], 'a quarter second buys one span at 4/s');
  now += 10_000;
  assert.deepEqual(takes(5), [true, true, true, true, false], 'an idle minute does not save up more than one second');
  now -= 5_000;
  assert.equal(budget.take(), false, 'a clock that steps back adds nothing');
  assert.equal(budget.refused, 5);
});

test('a budget of one per second under a steady stream records one span a second', () => {
  let now = 0;
  const budget = new PerSecondBudget(1, { now: () => now });
  let recorded = 0;
  for (let i = 0; i < 10_000; i++, now += 1) if (budget.take()) recorded++;
  assert.equal(recorded, 10, '10 s at 1/s');
  assert.equal(budget.refused, 9_990);
});
