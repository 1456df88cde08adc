// The answer of GET /v1/mesh/stats, built from a merged window, the open
// gauges and the catalog's instances. Pure: the API handler gathers the inputs.
//
// - A service row is what its instances' inbound proxies served (like
//   `linkerd viz stat`): every catalog service appears, idle ones with zeros
//   and nulls, and so does any destination that had traffic without being in
//   the catalog (any more).
// - An edge is what a caller's outbound proxy saw, the mesh's own answers
//   (503 no_healthy_endpoints...) included. source '' = outside the mesh.
// - rps = requests / the seconds the window covers.
// The answer's shape and the windows are the contract shared with the
// readers (src/lib/stats/answer.ts).

import { LatencyHistogram } from '../../lib/latency-histogram.ts';
import { seriesKey } from '../../config/telemetry-report.ts';
import type { MergedSeries, WindowRead } from './window.ts';
import { STATS_WINDOWS, type EdgeRow, type ServiceRow, type StatsAnswer, type StatsWindow } from '../../lib/stats/answer.ts';

export interface StatsInput {
  window: StatsWindow;
  read: WindowRead;
  /** Open TCP connections per series key. */
  open: ReadonlyMap<string, number>;
  /** Catalog services with their instance health. */
  instances: ReadonlyMap<string, { healthy: number; total: number }>;
  nowMs: number;
  service?: string;
}

export function buildStats(input: StatsInput): StatsAnswer {
  const { read } = input;
  const seconds = read.coveredSeconds;
  const rps = (requests: number) => Math.round((requests / seconds) * 1000) / 1000;
  const inbound = new Map<string, MergedSeries[]>();
  const edges: EdgeRow[] = [];
  for (const s of read.series) {
    if (s.direction === 'inbound') {
      inbound.set(s.destination, [...(inbound.get(s.destination) ?? []), s]);
    } else if (!input.service || s.source === input.service || s.destination === input.service) {
      if (s.requests === 0 && s.tcpOpened === 0) continue;
      edges.push({
        source: s.source,
        destination: s.destination,
        requests: s.requests,
        rps: rps(s.requests),
        successRate: rate(s.successes, s.requests),
        latencyMs: s.latency.percentiles(),
        tcp: { open: input.open.get(seriesKey(s)) ?? 0, opened: s.tcpOpened },
      });
    }
  }
  const openInbound = new Map<string, number>();
  for (const [key, n] of input.open) {
    const [direction, , destination] = key.split('\u0000');
    if (direction === 'inbound' && destination !== undefined) openInbound.set(destination, (openInbound.get(destination) ?? 0) + n);
  }
  const names = new Set([...input.instances.keys(), ...inbound.keys()]);
  const services: ServiceRow[] = [];
  for (const name of [...names].sort()) {
    if (input.service && name !== input.service) continue;
    const rows = inbound.get(name) ?? [];
    const latency = new LatencyHistogram();
    const sum = (f: (s: MergedSeries) => number) => rows.reduce((n, s) => n + f(s), 0);
    for (const s of rows) latency.merge(s.latency);
    const requests = sum((s) => s.requests);
    services.push({
      service: name,
      instances: input.instances.get(name) ?? { healthy: 0, total: 0 },
      requests,
      rps: rps(requests),
      successRate: rate(sum((s) => s.successes), requests),
      latencyMs: latency.percentiles(),
      tcp: { open: openInbound.get(name) ?? 0, opened: sum((s) => s.tcpOpened), closed: sum((s) => s.tcpClosed), bytesIn: sum((s) => s.bytesIn), bytesOut: sum((s) => s.bytesOut) },
    });
  }
  edges.sort((a, b) => a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
  return {
    window: input.window,
    windowSeconds: STATS_WINDOWS[input.window],
    coveredSeconds: Math.round(seconds * 1000) / 1000,
    generatedAt: new Date(input.nowMs).toISOString(),
    services,
    edges,
    droppedRequests: read.droppedRequests,
    refusedSeries: read.refusedSeries,
    refusedErrors: read.refusedErrors,
  };
}

/** successes / requests; null when nothing was asked (no rate, rather than a made-up 100%). */
const rate = (successes: number, requests: number): number | null => (requests === 0 ? null : successes / requests);
