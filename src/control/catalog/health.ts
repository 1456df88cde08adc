// Health aggregation, as Consul does it: the worst status wins, and ?passing
// keeps only instances whose every check (the node's own ones included) passes.

import type { CheckRecord, HealthStatus } from './types.ts';

const RANK: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };

export function aggregateStatus(checks: readonly Pick<CheckRecord, 'Status'>[]): HealthStatus {
  let worst: HealthStatus = 'passing';
  for (const check of checks) if (RANK[check.Status] > RANK[worst]) worst = check.Status;
  return worst;
}

export function allPassing(checks: readonly Pick<CheckRecord, 'Status'>[]): boolean {
  return checks.every((check) => check.Status === 'passing');
}

/** The checks that bear on one service instance: its own and its node's. */
export function checksForInstance<C extends Pick<CheckRecord, 'ServiceID'>>(nodeChecks: readonly C[], serviceId: string): C[] {
  return nodeChecks.filter((check) => check.ServiceID === '' || check.ServiceID === serviceId);
}
