// Whether to retry an attempt, and after how long. Pure: the mechanism
// (src/proxy/http/outbound.ts) asks, this answers with a reason it can log.

import type { Random } from '../../lib/clock.ts';
import type { ResolvedServiceDefaults, RetryOn } from '../../config/service-defaults.ts';
import { isGatewayError, isServerError, outcomeLabel, type AttemptOutcome } from './outcome.ts';

// One definition of the policy: the retries block of a service's resolved
// defaults (the budget is applied elsewhere, by RetryBudget).
export type { RetryOn };
export type RetryPolicy = Omit<ResolvedServiceDefaults['retries'], 'budget'>;

/**
 * Retry what says "the upstream did not handle this": the request never
 * arrived (connect-failure, refused-stream), the connection died (reset, often
 * a pooled keep-alive connection the server had just closed), or a gateway
 * said so (502/503/504). Not '5xx': a 500 is the application's own answer, and
 * retrying a deterministic bug only multiplies its load. Two retries as Istio
 * (Kuma's 5 is a lot without a budget); no per-try timeout, so the request
 * timeout bounds the whole; backoff 25 ms → 250 ms as Envoy (max = 10 × base).
 * Keep in step with the defaults in src/config/service-defaults.ts.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  numRetries: 2,
  perTryTimeoutMs: undefined,
  retryOn: Object.freeze(['connect-failure', 'refused-stream', 'reset', 'gateway-error'] as const),
  retriableStatusCodes: Object.freeze([]),
  backoffBaseMs: 25,
  backoffMaxMs: 250,
});

/** Envoy's matrix: 5xx, gateway-error and reset cover every attempt without a response. */
export function isRetriableOutcome(outcome: AttemptOutcome, policy: RetryPolicy): boolean {
  const on = (r: RetryOn) => policy.retryOn.includes(r);
  const noAnswer = on('5xx') || on('gateway-error') || on('reset');
  switch (outcome.kind) {
    case 'connect-failure':
      return noAnswer || on('connect-failure');
    case 'refused-stream':
      return noAnswer || on('refused-stream');
    case 'reset':
      return noAnswer;
    case 'timeout':
      // Only a per-try timeout leaves time for another try; a timeout without
      // one is the request's own deadline, and nothing is left to retry in.
      return policy.perTryTimeoutMs !== undefined && noAnswer;
    case 'response':
      return (
        (on('5xx') && isServerError(outcome)) ||
        (on('gateway-error') && isGatewayError(outcome)) ||
        (on('retriable-status-codes') && policy.retriableStatusCodes.includes(outcome.status))
      );
  }
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const NON_IDEMPOTENT_MAX_BYTES = 64 * 1024;

/**
 * Whether the request can be sent again: only when its body is known whole.
 * bodyBytes: 0 for no body (the caller decides that: no content-length, or 0,
 * and no transfer-encoding), the byte count of a fully buffered body, or
 * undefined for a streamed or unknown one, which was sent once and is gone.
 * The rule, "only idempotent methods or bodies under 64 KiB are
 * retried": idempotent methods up to maxReplayBytes, which an operator may
 * raise; others never past 64 KiB, whatever the limit, since a replayed POST
 * is only as safe as the upstream's tolerance of duplicates.
 */
export function canReplay(method: string, bodyBytes: number | undefined, maxReplayBytes = 64 * 1024): boolean {
  if (bodyBytes === undefined) return false;
  const limit = IDEMPOTENT.has(method.toUpperCase()) ? maxReplayBytes : Math.min(maxReplayBytes, NON_IDEMPOTENT_MAX_BYTES);
  return bodyBytes <= limit;
}

/**
 * Exponential backoff with full jitter (as Envoy): a whole number of ms in
 * [0, min(max, base · 2^(n-1))), n the 1-based retry number. Full jitter
 * spreads the retries of many callers that failed together.
 */
export function backoffDelay(retryNumber: number, policy: RetryPolicy, random: Random): number {
  const exponent = Math.max(0, Math.floor(retryNumber) - 1);
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

export interface RetryDecision {
  retry: boolean;
  /** For the access log and the x-mesh-error policy: 'retried: 503', 'not retried: budget exhausted'. */
  reason: string;
}

export interface RetryInput {
  outcome: AttemptOutcome;
  /** 1-based: attempts made so far, including the one that produced outcome. */
  attempt: number;
  policy: RetryPolicy;
  replayable: boolean;
  /** Withdraws from the retry budget; asked last, so no token is spent on a retry that would not go. */
  budgetAllows: () => boolean;
}

export function decideRetry(input: RetryInput): RetryDecision {
  const { outcome, attempt, policy } = input;
  const what = outcomeLabel(outcome);
  if (!isRetriableOutcome(outcome, policy)) return { retry: false, reason: `not retried: ${what} not in retry_on` };
  if (attempt > policy.numRetries) return { retry: false, reason: `not retried: retries=${policy.numRetries} exhausted` };
  if (!input.replayable) return { retry: false, reason: 'not retried: request body not replayable' };
  if (!input.budgetAllows()) return { retry: false, reason: BUDGET_EXHAUSTED };
  return { retry: true, reason: `retried: ${what}` };
}

export const BUDGET_EXHAUSTED = 'not retried: budget exhausted';
