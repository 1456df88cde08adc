// Whether to retry an attempt, and when. Pure: the mechanism asks, this answers.

import type { Random } from '../../lib/clock.ts';
import { isGatewayError, type AttemptOutcome } from './outcome.ts';

export type RetryOn = 'connect-failure' | 'refused-stream' | 'reset' | '5xx' | 'gateway-error' | 'retriable-status-codes';

export interface RetryPolicy {
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | undefined;
  readonly retryOn: readonly RetryOn[];
  readonly retriableStatusCodes: readonly number[];
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/** Kuma's and Envoy's habits: failures to get an answer and gateway errors are retried twice. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  numRetries: 2,
  perTryTimeoutMs: undefined,
  retryOn: ['connect-failure', 'refused-stream', 'reset', 'gateway-error'],
  retriableStatusCodes: [],
  backoffBaseMs: 25,
  backoffMaxMs: 250,
};

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isRetriableOutcome(outcome: AttemptOutcome, policy: RetryPolicy): boolean {
  const on = new Set(policy.retryOn);
  switch (outcome.kind) {
    case 'connect-failure':
      return on.has('connect-failure') || on.has('gateway-error') || on.has('5xx');
    case 'reset':
      return on.has('reset') || on.has('gateway-error') || on.has('5xx');
    case 'refused-stream':
      return on.has('refused-stream') || on.has('gateway-error') || on.has('5xx');
    case 'timeout':
      // Envoy retries a per-try timeout; without one there is no "try" to time out.
      return policy.perTryTimeoutMs !== undefined && (on.has('gateway-error') || on.has('5xx') || on.has('reset'));
    case 'response':
      if (on.has('5xx') && outcome.status >= 500) return true;
      if (on.has('gateway-error') && isGatewayError(outcome)) return true;
      return on.has('retriable-status-codes') && policy.retriableStatusCodes.includes(outcome.status);
  }
}

/**
 * A request can be sent again when its body is known whole: no body, or a
 * buffered one under the limit. Idempotent methods are retried on any
 * retriable outcome; others too when their body is buffered (the rule:
 * idempotent methods or bodies under 64 KiB). bodyBytes undefined: streamed.
 */
export function canReplay(method: string, bodyBytes: number | undefined, maxReplayBytes = 64 * 1024): boolean {
  if (bodyBytes === undefined) return false;
  if (IDEMPOTENT.has(method.toUpperCase())) return bodyBytes <= maxReplayBytes;
  return bodyBytes <= maxReplayBytes;
}

/** Exponential backoff with full jitter: random in [0, min(max, base·2^(n-1))). */
export function backoffDelay(retryNumber: number, policy: RetryPolicy, random: Random): number {
  const cap = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.max(0, retryNumber - 1));
  return Math.floor(random() * cap);
}

export interface RetryDecision {
  retry: boolean;
  reason: string;
}

export function decideRetry(input: { outcome: AttemptOutcome; attempt: number; policy: RetryPolicy; replayable: boolean; budgetAllows: () => boolean }): RetryDecision {
  const { outcome, attempt, policy } = input;
  const what = outcome.kind === 'response' ? String(outcome.status) : outcome.kind;
  if (outcome.kind === 'response' && !isRetriableOutcome(outcome, policy)) return { retry: false, reason: `not retried: ${what}` };
  if (!isRetriableOutcome(outcome, policy)) return { retry: false, reason: `not retried: ${what} is not in retry_on` };
  if (attempt > policy.numRetries) return { retry: false, reason: `retries=${policy.numRetries} exhausted` };
  if (!input.replayable) return { retry: false, reason: 'not retried: the body cannot be replayed' };
  if (!input.budgetAllows()) return { retry: false, reason: 'not retried: retry budget exhausted' };
  return { retry: true, reason: `retried: ${what}` };
}
