import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGatewayError, isServerError, type AttemptOutcome } from '../../../src/proxy/resilience/outcome.ts';
import { RetryBudget } from '../../../src/proxy/resilience/retry-budget.ts';
import { DEFAULT_RETRY_POLICY, backoffDelay, canReplay, decideRetry, isRetriableOutcome, type RetryPolicy } from '../../../src/proxy/resilience/retry-policy.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const r = (status: number): AttemptOutcome => ({ kind: 'response', status });

test('outcome classes', () => {
  assert.deepEqual([r(200), r(404), r(500), r(502), r(503), r(504), { kind: 'reset' } as const].map(isGatewayError), [false, false, false, true, true, true, true]);
  assert.deepEqual([r(499), r(500), { kind: 'timeout' } as const].map(isServerError), [false, true, true]);
});

test('what each retry_on retries', () => {
  const policy = (retryOn: RetryPolicy['retryOn'], extra: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, retryOn, ...extra });
  const table: Array<[RetryPolicy, AttemptOutcome, boolean]> = [
    [policy(['connect-failure']), { kind: 'connect-failure' }, true],
    [policy(['connect-failure']), { kind: 'reset' }, false],
    [policy(['reset']), { kind: 'reset' }, true],
    [policy(['5xx']), r(500), true],
    [policy(['gateway-error']), r(500), false],
    [policy(['gateway-error']), r(503), true],
    [policy(['gateway-error']), r(404), false],
    [policy(['retriable-status-codes'], { retriableStatusCodes: [409] }), r(409), true],
    [policy(['retriable-status-codes'], { retriableStatusCodes: [409] }), r(503), false],
    [policy(['gateway-error']), { kind: 'timeout' }, false],
    [policy(['gateway-error'], { perTryTimeoutMs: 100 }), { kind: 'timeout' }, true],
    [policy(['refused-stream']), { kind: 'refused-stream' }, true],
  ];
  for (const [p, outcome, want] of table) assert.equal(isRetriableOutcome(outcome, p), want, `${p.retryOn.join(',')} / ${JSON.stringify(outcome)}`);
});

test('only bodies known whole (none, or under 64 KiB) can be replayed', () => {
  assert.equal(canReplay('GET', 0), true);
  assert.equal(canReplay('POST', 1024), true);
  assert.equal(canReplay('POST', 64 * 1024 + 1), false);
  assert.equal(canReplay('PUT', undefined), false, 'a streamed body cannot be sent twice');
});

test('backoff is exponential with full jitter, capped', () => {
  const p = { ...DEFAULT_RETRY_POLICY, backoffBaseMs: 25, backoffMaxMs: 250 };
  assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, p, () => 0.999999)), [24, 49, 99, 199, 249, 249]);
  assert.equal(backoffDelay(3, p, () => 0), 0);
});

test('decideRetry says why, in order: outcome, attempts, replay, budget', () => {
  const base = { policy: DEFAULT_RETRY_POLICY, replayable: true, budgetAllows: () => true };
  assert.deepEqual(decideRetry({ ...base, outcome: r(200), attempt: 1 }), { retry: false, reason: 'not retried: 200' });
  assert.deepEqual(decideRetry({ ...base, outcome: r(503), attempt: 1 }), { retry: true, reason: 'retried: 503' });
  assert.match(decideRetry({ ...base, outcome: r(503), attempt: 3 }).reason, /retries=2 exhausted/);
  assert.match(decideRetry({ ...base, outcome: r(503), attempt: 1, replayable: false }).reason, /cannot be replayed/);
  let asked = 0;
  assert.match(decideRetry({ ...base, outcome: r(503), attempt: 1, budgetAllows: () => (asked++, false) }).reason, /budget exhausted/);
  decideRetry({ ...base, outcome: r(200), attempt: 1, budgetAllows: () => (asked++, true) });
  assert.equal(asked, 1, 'the budget is asked only when everything else says retry');
});

test('the retry budget: 20% of requests plus 10/s over 10 s, and usable up to that', () => {
  const clock = new FakeClock();
  const budget = new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000, clock });
  let retries = 0;
  for (let ms = 0; ms < 10_000; ms += 10) {
    budget.recordRequest(); // 100 requests per second, every one failing and wanting a retry
    if (budget.tryWithdraw()) retries += 1;
    clock.advance(10);
  }
  assert.ok(retries <= 200 + 100, `at most 20% of 1000 requests plus 10/s: ${retries}`);
  assert.ok(retries >= 250, `and the budget is not much tighter: ${retries}`);
});

test('with no traffic the floor still allows 10 retries per second, and deposits expire', () => {
  const clock = new FakeClock();
  const budget = new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000, clock });
  let allowed = 0;
  for (let i = 0; i < 200; i++) if (budget.tryWithdraw()) allowed += 1;
  assert.equal(allowed, 100, 'the floor over the 10 s window');
  clock.advance(10_001);
  assert.equal(budget.tryWithdraw(), true, 'spent retries leave the window');
});
