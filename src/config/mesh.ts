// mesh: the mesh-wide settings, one entry named "mesh". For now the default
// policy: what a call no intention decides gets. A new mesh (no entry)
// denies: opening the mesh is a decision an operator makes, with
// `meshctl config set mesh default_policy=allow`. Tracing is off until a
// collector is named: `meshctl config set mesh
// tracing.otlp_endpoint=http://collector:4318/v1/traces tracing.sampling=0.01`.

import { z } from 'zod';
import { deepFreeze, expecting, oneOf, settingsFor, type Checked, type SettingKey } from './kind.ts';
import { wholeNumber } from './service-defaults.ts';

export const POLICIES = ['allow', 'deny'] as const;
export type Policy = (typeof POLICIES)[number];

const kit = settingsFor(() => meshSchema, {
  policy: 'default_policy', default: 'default_policy', default_action: 'default_policy', defaultpolicy: 'default_policy',
  'tracing.endpoint': 'tracing.otlp_endpoint', 'tracing.url': 'tracing.otlp_endpoint', 'tracing.collector': 'tracing.otlp_endpoint',
  'tracing.sample_rate': 'tracing.sampling', 'tracing.sampling_rate': 'tracing.sampling', 'tracing.ratio': 'tracing.sampling',
  'tracing.max_spans': 'tracing.max_spans_per_second', 'tracing.spans_per_second': 'tracing.max_spans_per_second', 'tracing.rate_limit': 'tracing.max_spans_per_second',
});

export const OUTBOUND_POLICIES = ['allow_any', 'registry_only'] as const;

const OTLP_URL = 'an http:// or https:// URL of an OTLP/HTTP collector, such as http://collector:4318/v1/traces';

/** An OTLP/HTTP collector's URL: http or https, with a host (the agents post protobuf spans to it). */
const NO_CREDENTIALS = 'a URL without credentials (user:pass@): read-only tokens read the mesh config and the agents log the endpoint; give the collector an address the hosts trust, or run an OpenTelemetry Collector on each host';

function otlpUrl() {
  const parsed = (text: string): URL | undefined => {
    try {
      return new URL(text);
    } catch {
      return undefined;
    }
  };
  return z
    .string(expecting(OTLP_URL))
    .refine((text) => {
      const url = parsed(text);
      return url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    }, expecting(OTLP_URL))
    .refine((text) => {
      const url = parsed(text);
      return url === undefined || (url.username === '' && url.password === '');
    }, expecting(NO_CREDENTIALS));
}

const ratio = () => z.number(expecting('a ratio from 0 to 1, such as 0.01 for 1%')).min(0, expecting('a ratio from 0 to 1, such as 0.01 for 1%')).max(1, expecting('a ratio from 0 to 1, such as 0.01 for 1%'));

/** The share of new traces sampled when none is set: Istio's default, cheap enough to leave on. */
export const DEFAULT_SAMPLING = 0.01;

/**
 * Spans one agent records per second at most when none is set: well above
 * what 1% of a busy host's requests make, and a few ms of CPU a second at
 * most, whatever callers ask for with a sampled traceparent.
 */
export const DEFAULT_MAX_SPANS_PER_SECOND = 1_000;
export const MAX_SPANS_PER_SECOND_LIMIT = 1_000_000;

export const meshSchema = kit.group([], {
  default_policy: oneOf(POLICIES).optional(),
  /** Transparent mode: a redirected connection to no mesh service passes through (allow_any) or is refused. */
  outbound_policy: oneOf(OUTBOUND_POLICIES).optional(),
  /** Spans from every proxy hop, to an OTLP/HTTP collector; off without an endpoint. */
  tracing: kit.group(['tracing'], {
    otlp_endpoint: otlpUrl().optional(),
    /** New traces sampled (a request that comes with a trace context keeps its own decision). */
    sampling: ratio().optional(),
    /** Spans each agent records per second at most, sampled by ratio or by a caller's flag; past it, hops are left out of their traces. */
    max_spans_per_second: wholeNumber(1, MAX_SPANS_PER_SECOND_LIMIT).optional(),
  }).optional(),
});

export type StoredMesh = z.infer<typeof meshSchema>;

export const MESH_DEFAULTS = deepFreeze({ default_policy: 'deny', outbound_policy: 'allow_any', tracing: { sampling: DEFAULT_SAMPLING, max_spans_per_second: DEFAULT_MAX_SPANS_PER_SECOND } } satisfies StoredMesh);

/** The one entry's name. */
export const MESH_ENTRY_NAME = 'mesh';

export const checkMesh = (input: unknown): Checked<StoredMesh> => kit.check<StoredMesh>(input);

export interface TracingSettings {
  /** Absent: tracing is off. */
  otlp_endpoint?: string;
  sampling: number;
  max_spans_per_second: number;
}

export const withMeshDefaults = (stored: StoredMesh | undefined): Required<StoredMesh> & { tracing: TracingSettings } =>
  deepFreeze({
    default_policy: stored?.default_policy ?? MESH_DEFAULTS.default_policy,
    outbound_policy: stored?.outbound_policy ?? MESH_DEFAULTS.outbound_policy,
    tracing: { ...(stored?.tracing?.otlp_endpoint ? { otlp_endpoint: stored.tracing.otlp_endpoint } : {}), sampling: stored?.tracing?.sampling ?? DEFAULT_SAMPLING, max_spans_per_second: stored?.tracing?.max_spans_per_second ?? DEFAULT_MAX_SPANS_PER_SECOND },
  });

/** The mesh kind as the CLI's and the API's kind tables take it. */
export const meshKind = Object.freeze({
  kind: 'mesh',
  nameRule: /^mesh$/,
  nameHelp: 'mesh (the mesh-wide settings are one entry, named mesh)',
  check: checkMesh,
  applySetters: kit.applySetters,
  withDefaults: withMeshDefaults,
  keys: Object.freeze(kit.describeKeys(withMeshDefaults(undefined))) as readonly SettingKey[],
  singleName: MESH_ENTRY_NAME,
});
