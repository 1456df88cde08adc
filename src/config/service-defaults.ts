// service-defaults: how a service is reached. One zod schema for the stored
// (wire) form, snake_case, every field optional, unknown keys refused; one
// resolve step that fills the defaults and freezes the result the proxy uses.

import { z } from 'zod';
import { parseGoDuration } from '../lib/duration.ts';

const duration = z.string().refine((s) => parseGoDuration(s) !== undefined && (parseGoDuration(s) as number) >= 0, { message: 'expected a duration such as 5s or 250ms' });
const positive = z.number().int().positive();

export const PROTOCOLS = ['tcp', 'http', 'http2', 'grpc'] as const;
export const LB_POLICIES = ['round_robin', 'weighted_round_robin', 'least_request', 'random', 'p2c_ewma', 'ring_hash'] as const;
export const RETRY_ON = ['connect-failure', 'refused-stream', 'reset', '5xx', 'gateway-error', 'retriable-status-codes'] as const;

export const serviceDefaultsSchema = z
  .strictObject({
    protocol: z.enum(PROTOCOLS).optional(),
    load_balancer: z
      .strictObject({
        policy: z.enum(LB_POLICIES).optional(),
        hash_on: z.strictObject({ header: z.string().min(1).optional(), source_ip: z.boolean().optional() }).optional(),
      })
      .optional(),
    timeouts: z.strictObject({ connect: duration.optional(), request: duration.optional(), idle: duration.optional() }).optional(),
    retries: z
      .strictObject({
        num_retries: z.number().int().min(0).max(10).optional(),
        per_try_timeout: duration.optional(),
        retry_on: z.array(z.enum(RETRY_ON)).optional(),
        retriable_status_codes: z.array(z.number().int().min(100).max(599)).optional(),
        backoff_base: duration.optional(),
        backoff_max: duration.optional(),
        budget: z.strictObject({ retry_ratio: z.number().min(0).max(1).optional(), min_retries_per_second: z.number().int().min(0).optional() }).optional(),
      })
      .optional(),
    circuit_breaker: z.strictObject({ max_connections: positive.optional(), max_pending_requests: positive.optional(), max_requests: positive.optional() }).optional(),
    outlier_detection: z
      .strictObject({
        enabled: z.boolean().optional(),
        consecutive_errors: positive.optional(),
        base_ejection_time: duration.optional(),
        max_ejection_percent: z.number().min(0).max(100).optional(),
      })
      .optional(),
    mtls_mode: z.enum(['strict', 'permissive']).optional(),
  })
  .refine((v) => v.load_balancer?.hash_on === undefined || v.load_balancer.policy === 'ring_hash', {
    message: 'hash_on applies to the ring_hash policy only',
    path: ['load_balancer', 'hash_on'],
  });

export type StoredServiceDefaults = z.infer<typeof serviceDefaultsSchema>;

export interface ResolvedServiceDefaults {
  readonly protocol: (typeof PROTOCOLS)[number];
  readonly loadBalancer: { readonly policy: (typeof LB_POLICIES)[number]; readonly hashOn: { readonly header?: string; readonly sourceIp: boolean } };
  readonly timeouts: { readonly connectMs: number; readonly requestMs: number; readonly idleMs: number };
  readonly retries: {
    readonly numRetries: number;
    readonly perTryTimeoutMs: number | undefined;
    readonly retryOn: readonly (typeof RETRY_ON)[number][];
    readonly retriableStatusCodes: readonly number[];
    readonly backoffBaseMs: number;
    readonly backoffMaxMs: number;
    readonly budget: { readonly retryRatio: number; readonly minRetriesPerSecond: number };
  };
  readonly circuitBreaker: { readonly maxConnections: number; readonly maxPendingRequests: number; readonly maxRequests: number };
  readonly outlierDetection: { readonly enabled: boolean; readonly consecutiveErrors: number; readonly baseEjectionMs: number; readonly maxEjectionPercent: number };
  readonly mtlsMode: 'strict' | 'permissive';
}

const ms = (text: string | undefined, fallback: number): number => (text === undefined ? fallback : (parseGoDuration(text) as number));

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Defaults as Kuma's (connect 5 s, request 15 s, idle 1 h), Linkerd's budget (20% + 10/s), Envoy's breaker and outlier defaults. */
export function resolveServiceDefaults(stored: StoredServiceDefaults | undefined): ResolvedServiceDefaults {
  const s = stored ?? {};
  const perTry = s.retries?.per_try_timeout;
  return deepFreeze({
    protocol: s.protocol ?? 'tcp',
    loadBalancer: {
      policy: s.load_balancer?.policy ?? 'p2c_ewma',
      hashOn: { ...(s.load_balancer?.hash_on?.header ? { header: s.load_balancer.hash_on.header } : {}), sourceIp: s.load_balancer?.hash_on?.source_ip ?? !s.load_balancer?.hash_on?.header },
    },
    timeouts: { connectMs: ms(s.timeouts?.connect, 5_000), requestMs: ms(s.timeouts?.request, 15_000), idleMs: ms(s.timeouts?.idle, 3_600_000) },
    retries: {
      numRetries: s.retries?.num_retries ?? 2,
      perTryTimeoutMs: perTry === undefined ? undefined : ms(perTry, 0),
      retryOn: s.retries?.retry_on ?? ['connect-failure', 'refused-stream', 'reset', 'gateway-error'],
      retriableStatusCodes: s.retries?.retriable_status_codes ?? [],
      backoffBaseMs: ms(s.retries?.backoff_base, 25),
      backoffMaxMs: ms(s.retries?.backoff_max, 250),
      budget: { retryRatio: s.retries?.budget?.retry_ratio ?? 0.2, minRetriesPerSecond: s.retries?.budget?.min_retries_per_second ?? 10 },
    },
    circuitBreaker: {
      maxConnections: s.circuit_breaker?.max_connections ?? 1024,
      maxPendingRequests: s.circuit_breaker?.max_pending_requests ?? 1024,
      maxRequests: s.circuit_breaker?.max_requests ?? 1024,
    },
    outlierDetection: {
      enabled: s.outlier_detection?.enabled ?? true,
      consecutiveErrors: s.outlier_detection?.consecutive_errors ?? 5,
      baseEjectionMs: ms(s.outlier_detection?.base_ejection_time, 30_000),
      maxEjectionPercent: s.outlier_detection?.max_ejection_percent ?? 10,
    },
    mtlsMode: s.mtls_mode ?? 'strict',
  });
}
