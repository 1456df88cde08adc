// The contract of GET /v1/mesh/stats (issue 8), in one place: the windows it
// reads and the shape of its answer. The server builds it
// (src/control/telemetry/stats.ts); `meshctl stat` and the dashboard read it
// through src/lib/stats/client.ts. Types and a constant only, so sharing them
// couples no process to another's code: the CLI and the dashboard still reach
// the server only through the API.
//
// Fields marked "additive" came after the first version; a reader must not
// depend on them to draw a table.

/** The windows the server keeps, and the seconds each spans; the order is the one to offer and cycle through. */
export const STATS_WINDOWS = Object.freeze({ '10s': 10, '1m': 60, '10m': 600 } as const);
export type StatsWindow = keyof typeof STATS_WINDOWS;
export const STATS_WINDOW_NAMES: readonly StatsWindow[] = Object.freeze(Object.keys(STATS_WINDOWS) as StatsWindow[]);
/** What the server reads when no window is asked for, and what the CLI starts with. */
export const DEFAULT_STATS_WINDOW: StatsWindow = '1m';

export function isStatsWindow(text: string): text is StatsWindow {
  return Object.hasOwn(STATS_WINDOWS, text);
}

/** Milliseconds; null when nothing was measured. */
export type Percentiles = { p50: number; p95: number; p99: number } | null;

/** What a service's instances served (their inbound proxies), like a `linkerd viz stat` row. */
export interface ServiceRow {
  service: string;
  instances: { healthy: number; total: number };
  requests: number;
  rps: number;
  /** successes / requests; null without requests (no rate, rather than a made-up 100%). */
  successRate: number | null;
  latencyMs: Percentiles;
  tcp: { open: number; opened: number; closed: number; bytesIn: number; bytesOut: number };
}

/** What a caller's outbound proxy saw of a callee; source '' is outside the mesh. */
export interface EdgeRow {
  source: string;
  destination: string;
  requests: number;
  rps: number;
  successRate: number | null;
  latencyMs: Percentiles;
  tcp: { open: number; opened: number };
}

export interface StatsAnswer {
  window: StatsWindow;
  windowSeconds: number;
  /** Additive: less than windowSeconds while the server has been up for less; rps divides by it. */
  coveredSeconds: number;
  generatedAt: string;
  services: ServiceRow[];
  edges: EdgeRow[];
  /** Additive: requests not counted because the series table was full. */
  droppedRequests: number;
  /** Additive: series and open-connection gauges refused because the reporting node does not host their side (node-scope.ts). */
  refusedSeries: number;
  /** Additive: error entries refused by the same rule. */
  refusedErrors: number;
}
