import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBudget, type RetryBudgetOptions } from '../../../src/proxy/resilience/retry-budget.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

function linkerdBudget(extra: Partial<RetryBudgetOptions> = {}) {
  const clock = new FakeClock();
  return { clock, budget: new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000, clock, ...extra }) };
}

/** 100 requests per second, every one failing and wanting a retry; returns retries allowed per second. */
function failingTraffic(clock: FakeClock, budget: RetryBudget, seconds: number): number[] {
  const perSecond: number[] = [];
  for (let s = 0; s < seconds; s++) {
    let retries = 0;
    for (let i = 0; i < 100; i++) {
      budget.recordRequest();
      if (budget.tryWithdraw()) retries += 1;
      clock.advance(10);
    }
    perSecond.push(retries);
  }
  return perSecond;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

test('with every request failing, retries over 10 s stay within 20% of requests plus 10/s, and reach it', () => {
  const { clock, budget } = linkerdBudget();
  const retries = sum(failingTraffic(clock, budget, 10));
  assert.ok(retries <= 1000 * 0.2 + 10 * 10, `at most 300 for 1000 requests: ${retries}`);
  assert.ok(retries >= 290, `and the budget is usable: ${retries}`);
});

test('in a long outage every 10 s holds 20% of requests plus the floor: 300 retries for 1000 requests', () => {
  const { clock, budget } = linkerdBudget();
  const perSecond = failingTraffic(clock, budget, 60);
  for (let start = 0; start + 10 <= 60; start++) {
    const window = sum(perSecond.slice(start, start + 10));
    assert.ok(window <= 300 && window >= 290, `seconds ${start}-${start + 10}: ${window} retries`);
  }
});

test('with no traffic the floor allows 10 retries per second, sustained', () => {
  const { clock, budget } = linkerdBudget();
  for (let s = 0; s < 60; s++) {
    for (let i = 0; i < 10; i++) assert.equal(budget.tryWithdraw(), true, `retry ${i + 1} in second ${s}`);
    clock.advance(1000);
  }
});

test('the floor is 10/s averaged over the ttl: a burst may spend 100 at once, then waits', () => {
  const { clock, budget } = linkerdBudget();
  let allowed = 0;
  for (let i = 0; i < 200; i++) if (budget.tryWithdraw()) allowed += 1;
  assert.equal(allowed, 100);
  assert.equal(budget.available(), 0);
  clock.advance(9_999);
  assert.equal(budget.tryWithdraw(), false, 'the burst still counts 9.999 s later');
  clock.advance(1);
  assert.equal(budget.available(), 100, 'and is forgotten after the ttl');
});

test('deposits expire after the ttl', () => {
  const { clock, budget } = linkerdBudget();
  for (let i = 0; i < 1000; i++) budget.recordRequest();
  assert.equal(budget.available(), 300, '1000 requests → 200, plus the floor of 100');
  clock.advance(9_999);
  assert.equal(budget.available(), 300);
  clock.advance(1);
  assert.equal(budget.available(), 100, 'only the floor is left');
  clock.advance(3_600_000);
  assert.equal(budget.available(), 100, 'a long idle gap does not confuse the window');
});

test('retries do not deposit: only recordRequest earns retries', () => {
  const { budget } = linkerdBudget({ minRetriesPerSecond: 0 });
  assert.equal(budget.tryWithdraw(), false, 'nothing without traffic or floor');
  for (let i = 0; i < 10; i++) budget.recordRequest();
  assert.deepEqual([budget.tryWithdraw(), budget.tryWithdraw(), budget.tryWithdraw()], [true, true, false], '20% of 10 requests');
});

test('a ratio of 0 leaves only the floor', () => {
  const { budget } = linkerdBudget({ retryRatio: 0, minRetriesPerSecond: 1 });
  for (let i = 0; i < 1000; i++) budget.recordRequest();
  assert.equal(budget.available(), 10);
});

test('a clock that steps back neither loses nor revives tokens', () => {
  let now = 1_700_000_000_000;
  const clock = { now: () => now, after: () => ({ cancel() {} }) };
  const budget = new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 0, ttlMs: 10_000, clock });
  for (let i = 0; i < 10; i++) budget.recordRequest();
  now -= 5_000;
  assert.equal(budget.available(), 2, 'the deposits are still there');
  assert.equal(budget.tryWithdraw(), true);
  now += 5_000;
  assert.equal(budget.available(), 1, 'the withdrawal made in the past still counts');
  now += 10_000;
  assert.equal(budget.available(), 0, 'and all of it expires on the original schedule');
});

test('bad options are refused with the field and value', () => {
  const clock = new FakeClock();
  const table: Array<[Partial<RetryBudgetOptions>, RegExp]> = [
    [{ retryRatio: -0.1 }, /retryRatio must be between 0 and 1000, got -0.1/],
    [{ retryRatio: Number.NaN }, /retryRatio/],
    [{ minRetriesPerSecond: -1 }, /minRetriesPerSecond must be 0 or more, got -1/],
    [{ ttlMs: 500 }, /ttlMs must be between 1000 and 60000, got 500/],
    [{ ttlMs: 120_000 }, /ttlMs/],
  ];
  for (const [bad, message] of table) {
    assert.throws(() => new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000, clock, ...bad }), message);
  }
});
