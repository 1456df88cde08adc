// Shared answers for the dashboard's view-model tests, as the stats API gives them.

import type { MeshConfig, StatsAnswer } from '../../../src/dashboard/api.ts';

export const STATS: StatsAnswer = {
  window: '10s',
  windowSeconds: 10,
  generatedAt: '2026-11-27T05:30:00.000Z',
  services: [
    { service: 'api', instances: { healthy: 2, total: 2 }, requests: 200, rps: 20, successRate: 0.99, latencyMs: { p50: 1.2, p95: 3.4, p99: 7.9 }, tcp: { open: 3, opened: 10, bytesIn: 1, bytesOut: 2 } },
    { service: 'frontend', instances: { healthy: 1, total: 2 }, requests: 35, rps: 3.5, successRate: 0.9, latencyMs: { p50: 2, p95: 8, p99: 41.5 } },
    { service: 'inventory-reconciliation-worker-east', instances: { healthy: 3, total: 3 }, requests: 12340, rps: 1234, successRate: 1, latencyMs: { p50: 0.4, p95: 0.9, p99: 120 } },
    { service: 'idle', instances: { healthy: 0, total: 1 }, requests: 0, rps: 0, successRate: null, latencyMs: null },
  ],
  edges: [
    { source: 'frontend', destination: 'api', requests: 200, rps: 20, successRate: 0.99, latencyMs: { p50: 1.5, p95: 4, p99: 9 } },
    { source: '', destination: 'frontend', requests: 35, rps: 3.5, successRate: 0.9, latencyMs: null },
  ],
};

export const CONFIG: MeshConfig = {
  routers: [
    { Name: 'api', Config: { Routes: [{ Name: 'canary', Match: { Header: [{ Name: 'x-canary', Exact: '1' }] }, Destination: { Split: [{ Subset: 'v2', Weight: 100 }] } }] } as never },
    { Name: 'frontend', Config: { Routes: [{ Name: 'to-api', Match: { PathPrefix: '/api' }, Destination: { Split: [{ Service: 'api', Weight: 100 }] } }, { Name: 'other', Match: { PathPrefix: '/x' }, Destination: { Split: [{ Service: 'idle', Weight: 100 }] } }] } as never },
  ],
  intentions: [
    { SourceName: 'frontend', DestinationName: 'api', Action: 'allow', Precedence: 9 },
    { SourceName: 'web', DestinationName: 'api', Action: 'allow', Permissions: [{ Action: 'deny', HTTP: { PathPrefix: '/admin' } }], Precedence: 9 },
    { SourceName: 'frontend', DestinationName: 'idle', Action: 'deny', Precedence: 9 },
    { SourceName: '*', DestinationName: '*', Action: 'deny', Precedence: 1 },
  ],
};
