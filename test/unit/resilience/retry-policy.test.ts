import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGatewayError, isServerError, type AttemptOutcome } from '../../../src/proxy/resilience/outcome.ts';
import { DEFAULT_RETRY_POLICY, backoffDelay, canReplay, decideRetry, isRetriableOutcome, type RetryPolicy } from '../../../src/proxy/resilience/retry-policy.ts';

const r = (status: number): AttemptOutcome => ({ kind: 'response', status });
const connect: AttemptOutcome = { kind: 'connect-failure' };
const reset: AttemptOutcome = { kind: 'reset' };
const refused: AttemptOutcome = { kind: 'refused-stream' };
const timeout: AttemptOutcome = { kind: 'timeout' };
const name = (o: AttemptOutcome) => (o.kind === 'response' ? String(o.status) : o.kind);
const policy = (retryOn: RetryPolicy['retryOn'], extra: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, retryOn, ...extra });

test('outcome classes: gateway errors are 502-504 and no answer; server errors are any 5xx and no answer', () => {
  const table: Array<[AttemptOutcome, gateway: boolean, server: boolean]> = [
    [r(200), false, false],
    [r(404), false, false],
    [r(499), false, false],
    [r(500), false, true],
    [r(501), false, true],
    [r(502), true, true],
    [r(503), true, true],
    [r(504), true, true],
    [r(599), false, true],
    [r(600), false, false],
    [connect, true, true],
    [reset, true, true],
    [refused, true, true],
    [timeout, true, true],
  ];
  for (const [o, gateway, server] of table) {
    assert.equal(isGatewayError(o), gateway, `gateway ${name(o)}`);
    assert.equal(isServerError(o), server, `server ${name(o)}`);
  }
});

test('each retry_on retries what Envoy retries', () => {
  const codes = { retriableStatusCodes: [409] };
  const perTry = { perTryTimeoutMs: 100 };
  const table: Array<[RetryPolicy, AttemptOutcome, boolean]> = [
    [policy(['connect-failure']), connect, true],
    [policy(['connect-failure']), reset, false],
    [policy(['connect-failure']), refused, false],
    [policy(['connect-failure']), r(503), false],
    [policy(['refused-stream']), refused, true],
    [policy(['refused-stream']), reset, false],
    [policy(['reset']), reset, true],
    [policy(['reset']), connect, true],
    [policy(['reset']), refused, true],
    [policy(['reset']), r(503), false],
    [policy(['reset']), timeout, false],
    [policy(['reset'], perTry), timeout, true],
    [policy(['5xx']), r(500), true],
    [policy(['5xx']), r(503), true],
    [policy(['5xx']), r(404), false],
    [policy(['5xx']), connect, true],
    [policy(['5xx'], perTry), timeout, true],
    [policy(['gateway-error']), r(500), false],
    [policy(['gateway-error']), r(502), true],
    [policy(['gateway-error']), r(504), true],
    [policy(['gateway-error']), r(404), false],
    [policy(['gateway-error']), reset, true],
    [policy(['gateway-error']), timeout, false],
    [policy(['gateway-error'], perTry), timeout, true],
    [policy(['connect-failure', 'refused-stream'], perTry), timeout, false],
    [policy(['retriable-status-codes'], codes), r(409), true],
    [policy(['retriable-status-codes'], codes), r(503), false],
    [policy(['gateway-error'], codes), r(409), false],
    [policy([]), connect, false],
  ];
  for (const [p, outcome, want] of table) {
    const perTryNote = p.perTryTimeoutMs === undefined ? '' : ' (per-try timeout set)';
    assert.equal(isRetriableOutcome(outcome, p), want, `${p.retryOn.join(',') || 'nothing'} / ${name(outcome)}${perTryNote}`);
  }
});

test('the default policy retries no-answer and gateway errors, not the application\'s 500s', () => {
  const retried = [connect, refused, reset, r(502), r(503), r(504), r(200), r(404), r(500), timeout].filter((o) => isRetriableOutcome(o, DEFAULT_RETRY_POLICY)).map(name);
  assert.deepEqual(retried, ['connect-failure', 'refused-stream', 'reset', '502', '503', '504']);
  assert.equal(DEFAULT_RETRY_POLICY.numRetries, 2);
  assert.deepEqual([DEFAULT_RETRY_POLICY.backoffBaseMs, DEFAULT_RETRY_POLICY.backoffMaxMs], [25, 250]);
  assert.ok(Object.isFrozen(DEFAULT_RETRY_POLICY) && Object.isFrozen(DEFAULT_RETRY_POLICY.retryOn));
});

test('a request is replayable only when its body is known whole and small enough for its method', () => {
  const KiB = 1024;
  const table: Array<[method: string, bodyBytes: number | undefined, max: number | undefined, want: boolean]> = [
    ['GET', 0, undefined, true],
    ['GET', undefined, undefined, false],
    ['HEAD', 0, undefined, true],
    ['PUT', 64 * KiB, undefined, true],
    ['PUT', 64 * KiB + 1, undefined, false],
    ['PUT', undefined, undefined, false],
    ['POST', 0, undefined, true],
    ['POST', 1 * KiB, undefined, true],
    ['POST', 64 * KiB, undefined, true],
    ['POST', 64 * KiB + 1, undefined, false],
    ['PATCH', undefined, undefined, false],
    ['post', 1 * KiB, undefined, true],
    // A raised limit applies to idempotent methods only.
    ['PUT', 200 * KiB, 256 * KiB, true],
    ['DELETE', 200 * KiB, 256 * KiB, true],
    ['POST', 200 * KiB, 256 * KiB, false],
    // A lowered one applies to all.
    ['GET', 10 * KiB, 8 * KiB, false],
    ['POST', 10 * KiB, 8 * KiB, false],
  ];
  for (const [method, bytes, max, want] of table) assert.equal(canReplay(method, bytes, max), want, `${method} ${bytes} bytes, limit ${max ?? 'default'}`);
});

test('backoff is exponential with full jitter, capped at the max', () => {
  const p = policy(['reset'], { backoffBaseMs: 25, backoffMaxMs: 250 });
  const almostOne = () => 0.999999;
  assert.deepEqual([1, 2, 3, 4, 5, 9, 2000].map((n) => backoffDelay(n, p, almostOne)), [24, 49, 99, 199, 249, 249, 249]);
  assert.deepEqual([1, 3, 9].map((n) => backoffDelay(n, p, () => 0)), [0, 0, 0]);
  assert.equal(backoffDelay(3, p, () => 0.5), 50);
  assert.equal(backoffDelay(0, p, almostOne), 24, 'a retry number below 1 is the first');
});

test('decideRetry says why, checking outcome, attempts, replay, then the budget', () => {
  const table: Array<{ outcome: AttemptOutcome; attempt: number; replayable?: boolean; budget?: boolean; retry: boolean; reason: string; asked: boolean }> = [
    { outcome: r(200), attempt: 1, retry: false, reason: 'not retried: 200 not in retry_on', asked: false },
    { outcome: r(500), attempt: 1, retry: false, reason: 'not retried: 500 not in retry_on', asked: false },
    { outcome: r(503), attempt: 1, retry: true, reason: 'retried: 503', asked: true },
    { outcome: reset, attempt: 2, retry: true, reason: 'retried: reset', asked: true },
    { outcome: r(503), attempt: 3, retry: false, reason: 'not retried: retries=2 exhausted', asked: false },
    { outcome: r(503), attempt: 1, replayable: false, retry: false, reason: 'not retried: request body not replayable', asked: false },
    { outcome: connect, attempt: 1, budget: false, retry: false, reason: 'not retried: budget exhausted', asked: true },
    { outcome: timeout, attempt: 1, retry: false, reason: 'not retried: timeout not in retry_on', asked: false },
  ];
  for (const row of table) {
    let asked = false;
    const decision = decideRetry({
      outcome: row.outcome,
      attempt: row.attempt,
      policy: DEFAULT_RETRY_POLICY,
      replayable: row.replayable ?? true,
      budgetAllows: () => ((asked = true), row.budget ?? true),
    });
    assert.deepEqual(decision, { retry: row.retry, reason: row.reason });
    assert.equal(asked, row.asked, `budget asked for ${row.reason}`);
  }
});

test('numRetries 0 never retries', () => {
  const decision = decideRetry({ outcome: connect, attempt: 1, policy: policy(['connect-failure'], { numRetries: 0 }), replayable: true, budgetAllows: () => true });
  assert.deepEqual(decision, { retry: false, reason: 'not retried: retries=0 exhausted' });
});
