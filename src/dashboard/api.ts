// What the dashboard reads, and how, besides the stats (GET /v1/mesh/stats,
// read as `meshctl stat` reads it: src/lib/stats/): the newest errors (GET
// /v1/mesh/stats/errors; the contract is in issue 8) and the mesh
// configuration that concerns a service (routes, intentions), through the
// same ApiClient as the CLI. The dashboard reaches the rest of meshctl only
// through these answers, so the types here are its reading of the contract,
// not imports from the server.

import { ROUTER_KIND, type StoredRouter } from '../config/routes.ts';
import type { HttpMatch } from '../config/intentions.ts';
import { MeshError } from '../lib/errors.ts';
import type { ApiClient } from '../cli/api-client.ts';

export interface MeshErrorRecord {
  time: string;
  node?: string;
  source: string;
  destination: string;
  status: number;
  cause: string;
  hop?: string;
  endpoint?: string;
  policy?: string;
  detail?: string;
  method?: string;
  path?: string;
}

export interface RouterEntry {
  Name: string;
  Config: StoredRouter;
}

export interface IntentionRecord {
  SourceName: string;
  DestinationName: string;
  Action?: 'allow' | 'deny';
  Permissions?: Array<{ Action: 'allow' | 'deny'; HTTP: HttpMatch }>;
  Precedence: number;
}

/** The mesh configuration the detail pane shows; it changes rarely, so it is read less often than the stats. */
export interface MeshConfig {
  routers: RouterEntry[];
  intentions: IntentionRecord[];
}

export async function fetchErrors(client: ApiClient, limit: number, service?: string): Promise<MeshErrorRecord[]> {
  const query = new URLSearchParams({ limit: String(limit), ...(service ? { service } : {}) });
  return (await client.request<{ errors: MeshErrorRecord[] }>('GET', `/v1/mesh/stats/errors?${query}`)).body.errors;
}

export async function fetchMeshConfig(client: ApiClient): Promise<MeshConfig> {
  const [routers, intentions] = await Promise.all([
    client.request<RouterEntry[]>('GET', `/v1/mesh/config/${ROUTER_KIND}`),
    client.request<IntentionRecord[]>('GET', '/v1/connect/intentions'),
  ]);
  return { routers: routers.body, intentions: intentions.body };
}

/** A failed read as the status line shows it: the problem, and what to do. */
export interface Problem {
  message: string;
  fix: string;
}

export function problemOf(error: unknown, what: string): Problem {
  if (error instanceof MeshError) {
    // A server without the telemetry API answers 404 for the path itself.
    if (error.code === 'MESH_E_NOT_FOUND' && what === 'stats') return { message: `the server has no telemetry read API (${error.message})`, fix: 'upgrade meshctl server to a version with GET /v1/mesh/stats' };
    return { message: error.message, fix: error.hint ?? 'check the server\'s log' };
  }
  return { message: `reading ${what} failed: ${(error as Error).message ?? String(error)}`, fix: 'check the server\'s log; the dashboard keeps retrying' };
}
