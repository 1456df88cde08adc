// service-defaults: how a service is reached (protocol, balancing, timeouts,
// retries, breaker, outlier detection, mTLS mode). One zod schema for the
// stored (wire) form: snake_case, every field optional, unknown keys refused
// with a hint when they look like a known one, every error reported at once
// with its field path and the value it got. The CLI, the server and the agent
// all validate with it; resolveServiceDefaults fills in the defaults once and
// freezes what the proxy uses; applySetters turns the CLI's key=value settings
// into the stored form, converting values by the schema's own types.
//
// The key-hint, setter and error-listing helpers are every kind's: kind.ts.

import { z } from 'zod';
import { parseGoDuration } from '../lib/duration.ts';
import { deepFreeze, expecting, oneOf, settingsFor, type Checked, type SettingKey } from './kind.ts';

export { describeFieldErrors, type Checked, type FieldError, type SettingKey } from './kind.ts';

export const PROTOCOLS = ['tcp', 'http', 'http2', 'grpc'] as const;
export const LB_POLICIES = ['round_robin', 'weighted_round_robin', 'least_request', 'random', 'p2c_ewma', 'ring_hash'] as const;
export const RETRY_ON = ['connect-failure', 'refused-stream', 'reset', '5xx', 'gateway-error', 'retriable-status-codes'] as const;
export const MTLS_MODES = ['strict', 'permissive'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export type LbPolicy = (typeof LB_POLICIES)[number];
export type RetryOn = (typeof RETRY_ON)[number];
export type MtlsMode = (typeof MTLS_MODES)[number];

/** Node's timers hold at most 2^31-1 ms (about 596 h); a longer one fires at once. */
const MAX_DURATION_MS = 2 ** 31 - 1;

// ---- Values, each with the message an operator reads when it is wrong.

export function wholeNumber(min: number, max?: number) {
  const what = max === undefined ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
  const base = z.number(expecting(what)).int(expecting(what)).min(min, expecting(what));
  return max === undefined ? base : base.max(max, expecting(what));
}

const numberIn = (min: number, max: number) => z.number(expecting(`a number from ${min} to ${max}`)).min(min, expecting(`a number from ${min} to ${max}`)).max(max, expecting(`a number from ${min} to ${max}`));
const flag = () => z.boolean(expecting('true or false'));

/** A Go duration ("5s", "250ms", "1h30m"); zeroMeans names what 0s does where it is allowed. */
export function duration(zeroMeans?: string) {
  const what = zeroMeans ? `a duration such as 5s or 250ms (0s: ${zeroMeans})` : 'a duration above 0, such as 5s or 250ms';
  return z
    .string(expecting(what))
    .refine((text) => {
      const ms = parseGoDuration(text);
      return ms !== undefined && (zeroMeans ? ms >= 0 : ms > 0);
    }, expecting(what))
    .refine((text) => (parseGoDuration(text) ?? 0) <= MAX_DURATION_MS, expecting('at most 596h'));
}

const kit = settingsFor(() => serviceDefaultsSchema, RENAMED_KEYS());
const group = kit.group;

// ---- The schema.

export const serviceDefaultsSchema = group([], {
  protocol: oneOf(PROTOCOLS).optional(),
  load_balancer: group(['load_balancer'], {
    policy: oneOf(LB_POLICIES).optional(),
    hash_on: group(['load_balancer', 'hash_on'], { header: z.string(expecting('a header name')).min(1, expecting('a header name')).optional(), source_ip: flag().optional() }).optional(),
  }).optional(),
  timeouts: group(['timeouts'], { connect: duration().optional(), request: duration('none').optional(), idle: duration('none').optional() }).optional(),
  retries: group(['retries'], {
    num_retries: wholeNumber(0).max(10, expecting('at most 10 retries')).optional(),
    per_try_timeout: duration().optional(),
    retry_on: z.array(oneOf(RETRY_ON), expecting(`a list of ${RETRY_ON.join(', ')}`)).optional(),
    retriable_status_codes: z.array(wholeNumber(100, 599), expecting('a list of status codes')).optional(),
    backoff_base: duration('no wait').optional(),
    backoff_max: duration('no wait').optional(),
    budget: group(['retries', 'budget'], { retry_ratio: numberIn(0, 1).optional(), min_retries_per_second: wholeNumber(0).optional() }).optional(),
  }).optional(),
  circuit_breaker: group(['circuit_breaker'], { max_connections: wholeNumber(1).optional(), max_pending_requests: wholeNumber(1).optional(), max_requests: wholeNumber(1).optional() }).optional(),
  outlier_detection: group(['outlier_detection'], {
    enabled: flag().optional(),
    consecutive_errors: wholeNumber(1).optional(),
    base_ejection_time: duration().optional(),
    max_ejection_percent: wholeNumber(0, 100).optional(),
  }).optional(),
  mtls_mode: oneOf(MTLS_MODES).optional(),
}).superRefine((v, ctx) => {
  // Settings that would be silently ignored are refused instead.
  const hashOn = v.load_balancer?.hash_on;
  if (hashOn && v.load_balancer?.policy !== 'ring_hash') {
    ctx.addIssue({ code: 'custom', path: ['load_balancer', 'hash_on'], message: `applies to the ring_hash policy only (load_balancer.policy is ${v.load_balancer?.policy ?? `${SERVICE_DEFAULTS.load_balancer.policy}, the default`})` });
  }
  if (hashOn?.header !== undefined && hashOn.source_ip === true) {
    ctx.addIssue({ code: 'custom', path: ['load_balancer', 'hash_on'], message: 'give header or source_ip: true, not both' });
  }
  const retryOn: readonly string[] = v.retries?.retry_on ?? SERVICE_DEFAULTS.retries.retry_on;
  const codes = v.retries?.retriable_status_codes ?? [];
  if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) {
    ctx.addIssue({ code: 'custom', path: ['retries', 'retriable_status_codes'], message: 'used only when retries.retry_on includes retriable-status-codes' });
  }
  if (codes.length === 0 && retryOn.includes('retriable-status-codes')) {
    ctx.addIssue({ code: 'custom', path: ['retries', 'retry_on'], message: 'retriable-status-codes needs retries.retriable_status_codes' });
  }
  const base = v.retries?.backoff_base ?? SERVICE_DEFAULTS.retries.backoff_base;
  const max = v.retries?.backoff_max ?? SERVICE_DEFAULTS.retries.backoff_max;
  if ((parseGoDuration(base) ?? 0) > (parseGoDuration(max) ?? Infinity)) {
    ctx.addIssue({ code: 'custom', path: ['retries', 'backoff_max'], message: `must be at least retries.backoff_base (${base}), got ${max}${v.retries?.backoff_max ? '' : ' (the default)'}` });
  }
});

/** The stored (wire) form: what PUT takes, what the server stores and the agent receives. */
export type StoredServiceDefaults = z.infer<typeof serviceDefaultsSchema>;

/** Every default, in the stored form: the one place they are written down. */
export const SERVICE_DEFAULTS = deepFreeze({
  protocol: 'tcp',
  load_balancer: { policy: 'p2c_ewma' },
  timeouts: { connect: '5s', request: '15s', idle: '1h' },
  retries: {
    num_retries: 2,
    retry_on: ['connect-failure', 'refused-stream', 'reset', 'gateway-error'],
    retriable_status_codes: [],
    backoff_base: '25ms',
    backoff_max: '250ms',
    budget: { retry_ratio: 0.2, min_retries_per_second: 10 },
  },
  circuit_breaker: { max_connections: 1024, max_pending_requests: 1024, max_requests: 1024 },
  outlier_detection: { enabled: true, consecutive_errors: 5, base_ejection_time: '30s', max_ejection_percent: 10 },
  mtls_mode: 'strict',
} satisfies StoredServiceDefaults);

/** Validates a stored form; every problem at once, an unknown key each on its own. */
export const checkServiceDefaults = (input: unknown): Checked<StoredServiceDefaults> => kit.check<StoredServiceDefaults>(input);

// ---- Resolved: what the proxy uses.

export interface ResolvedServiceDefaults {
  readonly protocol: Protocol;
  readonly loadBalancer: { readonly policy: LbPolicy; readonly hashOn: { readonly header?: string; readonly sourceIp: boolean } };
  /** requestMs and idleMs 0: none. */
  readonly timeouts: { readonly connectMs: number; readonly requestMs: number; readonly idleMs: number };
  readonly retries: {
    readonly numRetries: number;
    readonly perTryTimeoutMs: number | undefined;
    readonly retryOn: readonly RetryOn[];
    readonly retriableStatusCodes: readonly number[];
    readonly backoffBaseMs: number;
    readonly backoffMaxMs: number;
    readonly budget: { readonly retryRatio: number; readonly minRetriesPerSecond: number };
  };
  readonly circuitBreaker: { readonly maxConnections: number; readonly maxPendingRequests: number; readonly maxRequests: number };
  readonly outlierDetection: { readonly enabled: boolean; readonly consecutiveErrors: number; readonly baseEjectionMs: number; readonly maxEjectionPercent: number };
  readonly mtlsMode: MtlsMode;
}

/** Milliseconds of a duration the schema has accepted. */
const ms = (text: string): number => parseGoDuration(text) as number;

/**
 * The stored form with every default filled in: what the service gets, in the
 * keys an operator sets. hash_on appears only with ring_hash (source IP unless
 * a header is given); per_try_timeout only when set.
 */
export function withServiceDefaults(stored: StoredServiceDefaults | undefined): StoredServiceDefaults {
  const s = stored ?? {};
  const d = SERVICE_DEFAULTS;
  const policy = s.load_balancer?.policy ?? d.load_balancer.policy;
  const hashOn = policy === 'ring_hash' ? (s.load_balancer?.hash_on ?? { source_ip: true }) : undefined;
  const perTry = s.retries?.per_try_timeout;
  return deepFreeze({
    protocol: s.protocol ?? d.protocol,
    load_balancer: { policy, ...(hashOn ? { hash_on: { ...hashOn } } : {}) },
    timeouts: { ...d.timeouts, ...s.timeouts },
    retries: {
      num_retries: s.retries?.num_retries ?? d.retries.num_retries,
      ...(perTry === undefined ? {} : { per_try_timeout: perTry }),
      retry_on: [...(s.retries?.retry_on ?? d.retries.retry_on)],
      retriable_status_codes: [...(s.retries?.retriable_status_codes ?? d.retries.retriable_status_codes)],
      backoff_base: s.retries?.backoff_base ?? d.retries.backoff_base,
      backoff_max: s.retries?.backoff_max ?? d.retries.backoff_max,
      budget: { ...d.retries.budget, ...s.retries?.budget },
    },
    circuit_breaker: { ...d.circuit_breaker, ...s.circuit_breaker },
    outlier_detection: { ...d.outlier_detection, ...s.outlier_detection },
    mtls_mode: s.mtls_mode ?? d.mtls_mode,
  });
}

/** Fills the defaults (Kuma's timeouts, Linkerd's budget, Envoy's breaker and outlier numbers) and freezes the result. */
export function resolveServiceDefaults(stored: StoredServiceDefaults | undefined): ResolvedServiceDefaults {
  const f = withServiceDefaults(stored);
  const lb = f.load_balancer!;
  const t = f.timeouts!;
  const r = f.retries!;
  const cb = f.circuit_breaker!;
  const od = f.outlier_detection!;
  return deepFreeze({
    protocol: f.protocol!,
    loadBalancer: {
      policy: lb.policy!,
      hashOn: { ...(lb.hash_on?.header ? { header: lb.hash_on.header } : {}), sourceIp: lb.hash_on?.source_ip ?? !lb.hash_on?.header },
    },
    timeouts: { connectMs: ms(t.connect!), requestMs: ms(t.request!), idleMs: ms(t.idle!) },
    retries: {
      numRetries: r.num_retries!,
      perTryTimeoutMs: r.per_try_timeout === undefined ? undefined : ms(r.per_try_timeout),
      retryOn: r.retry_on!,
      retriableStatusCodes: r.retriable_status_codes!,
      backoffBaseMs: ms(r.backoff_base!),
      backoffMaxMs: ms(r.backoff_max!),
      budget: { retryRatio: r.budget!.retry_ratio!, minRetriesPerSecond: r.budget!.min_retries_per_second! },
    },
    circuitBreaker: { maxConnections: cb.max_connections!, maxPendingRequests: cb.max_pending_requests!, maxRequests: cb.max_requests! },
    outlierDetection: { enabled: od.enabled!, consecutiveErrors: od.consecutive_errors!, baseEjectionMs: ms(od.base_ejection_time!), maxEjectionPercent: od.max_ejection_percent! },
    mtlsMode: f.mtls_mode!,
  });
}

// ---- key=value settings, as `meshctl config set` takes them.

/**
 * Applies key=value settings (dotted paths; a,b for lists; an empty value
 * removes the setting, back to its default) onto a stored form; see kind.ts.
 */
export const applySetters = (current: object, assignments: readonly string[]): Record<string, unknown> => kit.applySetters(current, assignments);

/** Service names (and so entry names): letters, digits and dashes, at most 64. */
export const SERVICE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$/;

/** The service-defaults kind as the CLI's and the API's kind tables take it. */
export const serviceDefaultsKind = Object.freeze({
  kind: 'service-defaults',
  nameRule: SERVICE_NAME,
  nameHelp: 'a service name: at most 64 letters, digits and dashes, starting and ending with a letter or digit',
  check: checkServiceDefaults,
  applySetters,
  withDefaults: withServiceDefaults,
  keys: Object.freeze(kit.describeKeys(withServiceDefaults(undefined))) as readonly SettingKey[],
});

// ---- Hints for keys that look like known ones.

/** Renamed and commonly mistyped keys, by full path (or bare key, anywhere) → the full path to use. */
function RENAMED_KEYS(): Readonly<Record<string, string>> {
  return {
  lb: 'load_balancer',
  balancer: 'load_balancer',
  load_balancing: 'load_balancer',
  lb_policy: 'load_balancer.policy',
  retry: 'retries',
  retry_policy: 'retries',
  timeout: 'timeouts',
  breaker: 'circuit_breaker',
  limits: 'circuit_breaker',
  outlier: 'outlier_detection',
  mtls: 'mtls_mode',
  tls: 'mtls_mode',
  tls_mode: 'mtls_mode',
  max_conns: 'circuit_breaker.max_connections',
  max_pending: 'circuit_breaker.max_pending_requests',
  connect_timeout: 'timeouts.connect',
  request_timeout: 'timeouts.request',
  idle_timeout: 'timeouts.idle',
  max_retries: 'retries.num_retries',
  attempts: 'retries.num_retries',
  'retries.retries': 'retries.num_retries',
  'load_balancer.type': 'load_balancer.policy',
  'load_balancer.algorithm': 'load_balancer.policy',
  'load_balancer.hash': 'load_balancer.hash_on',
  consecutive_5xx: 'outlier_detection.consecutive_errors',
  base_ejection: 'outlier_detection.base_ejection_time',
  };
}
