// The body of PUT /v1/mesh/telemetry: what one agent's proxies carried since
// its last acknowledged report. The agent builds it (src/agent/telemetry),
// the server checks it with this schema and merges it (src/control/telemetry).
//
// - series: deltas per (direction, source, destination). `successes` counts
//   requests answered with status < 500 and no mesh failure; `latency` is a
//   sparse histogram over the shared buckets (src/lib/latency-histogram.ts);
//   bytesIn is what the connection's opener sent towards the destination,
//   bytesOut what came back.
// - open: the TCP connections open right now (absolute, not a delta), only
//   non-zero ones; each report replaces the node's previous gauges.
// - errors: the last mesh errors and upstream 5xx, oldest first.
// - ageMs: how old the counts are, when the report comes late.
// A report the server refused or never got is sent again later, with its age
// (src/agent/telemetry/report-backlog.ts).

import { z } from 'zod';
import { HISTOGRAM_BUCKETS } from '../lib/latency-histogram.ts';

/** Bounds that keep one report (and a bad agent) small: the agent never builds more than these. */
export const REPORT_LIMITS = Object.freeze({ series: 2000, errors: 100, textChars: 512 });

/** The oldest counts a report may carry: the server keeps 10 minutes. */
export const REPORT_MAX_AGE_MS = 600_000;

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const name = z.string().max(253);
const text = z.string().max(REPORT_LIMITS.textChars);
const direction = z.enum(['inbound', 'outbound']);

export const seriesSchema = z.strictObject({
  direction,
  source: name,
  destination: name,
  requests: count,
  successes: count,
  latency: z.array(z.tuple([z.number().int().min(0).max(HISTOGRAM_BUCKETS - 1), count])).max(HISTOGRAM_BUCKETS),
  tcpOpened: count,
  tcpClosed: count,
  bytesIn: count,
  bytesOut: count,
});

export const openSchema = z.strictObject({ direction, source: name, destination: name, open: count });

export const reportedErrorSchema = z.strictObject({
  time: z.iso.datetime(),
  direction,
  source: name,
  destination: name,
  status: z.number().int().min(0).max(999),
  /** A mesh error cause (x-mesh-error), or upstream_5xx when the app answered 5xx. */
  cause: text,
  hop: direction,
  endpoint: text.optional(),
  policy: text.optional(),
  detail: text.optional(),
  method: text,
  path: text,
});

export const telemetryReportSchema = z.strictObject({
  node: name.min(1),
  series: z.array(seriesSchema).max(REPORT_LIMITS.series),
  open: z.array(openSchema).max(REPORT_LIMITS.series),
  errors: z.array(reportedErrorSchema).max(REPORT_LIMITS.errors),
  /**
   * How long ago (ms) the series' counts were taken, for a report sent late
   * (after an outage); absent or 0 for one sent as it was taken. An age, not a
   * timestamp: the agent's clock need not agree with the server's.
   */
  ageMs: z.number().int().min(0).max(REPORT_MAX_AGE_MS).optional(),
});

export type ReportedSeries = z.infer<typeof seriesSchema>;
export type ReportedOpen = z.infer<typeof openSchema>;
export type ReportedError = z.infer<typeof reportedErrorSchema>;
export type TelemetryReport = z.infer<typeof telemetryReportSchema>;

/** The key one series is counted under, on both sides. */
export const seriesKey = (s: { direction: string; source: string; destination: string }): string => `${s.direction}\u0000${s.source}\u0000${s.destination}`;
