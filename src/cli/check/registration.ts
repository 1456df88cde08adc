// Is this host's instance of a service in the catalog, and passing? Pure,
// over /v1/health/service/NAME's answer.

import { failed, passed, warned, type Verdict } from './result.ts';

export interface HealthEntry {
  Node: { Node: string };
  Service: { ID: string };
  Checks: Array<{ CheckID: string; Status: string; Output?: string }>;
}

export function evaluateRegistration(entries: readonly HealthEntry[], node: string, serviceId: string): Verdict {
  const mine = entries.find((e) => e.Node.Node === node && e.Service.ID === serviceId);
  if (!mine) return failed(`instance ${serviceId} of node ${node} is not in the catalog`, 'the agent registers it within one sync interval: see meshctl status; meshctl join again re-registers it');
  const bad = mine.Checks.filter((c) => c.Status !== 'passing');
  const critical = bad.filter((c) => c.Status !== 'warning');
  const describe = (checks: typeof bad) => checks.map((c) => `${c.CheckID} ${c.Status}${c.Output ? `: ${c.Output.trim().slice(0, 100)}` : ''}`).join('; ');
  const hint = 'fix the service or its check (meshctl status shows each check\'s output); instances that are not passing get no traffic';
  if (critical.length > 0) return failed(describe(critical), hint);
  if (bad.length > 0) return warned(describe(bad), hint);
  return passed(`${mine.Checks.length} check${mine.Checks.length === 1 ? '' : 's'} passing`);
}
