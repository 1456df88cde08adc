// The one typed read of GET /v1/mesh/stats, for `meshctl stat` and the
// dashboard. It takes anything with ApiClient's request method (the CLI's
// client, with its server and token resolution and its MeshErrors), so lib
// does not import from cli.

import type { StatsAnswer, StatsWindow } from './answer.ts';

export interface StatsRequester {
  request<T>(method: string, path: string): Promise<{ body: T }>;
}

export interface StatsQuery {
  window: StatsWindow;
  /** Only this service's row and the edges it is a side of; the server answers 404 when the catalog has no instance of it. */
  service?: string;
}

function statsPath(query: StatsQuery): string {
  const params = new URLSearchParams({ window: query.window, ...(query.service ? { service: query.service } : {}) });
  return `/v1/mesh/stats?${params}`;
}

export async function fetchStats(client: StatsRequester, query: StatsQuery): Promise<StatsAnswer> {
  return (await client.request<StatsAnswer>('GET', statsPath(query))).body;
}
