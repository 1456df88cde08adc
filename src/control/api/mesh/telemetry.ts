// The control plane's view of the traffic (issue 8):
//   PUT /v1/mesh/telemetry        an agent's report; needs node:write on the
//                                 node it reports for (the agent's own token),
//                                 and counts only for the services the catalog
//                                 has on that node (the answer says what was refused).
//   GET /v1/mesh/stats            ?window=10s|1m|10m (default 1m) &service=NAME
//                                 (404 when the catalog has no instance of NAME)
//   GET /v1/mesh/stats/errors     ?service=NAME &limit=N (default 50, at most 1000)
// The reads need a read permission: a global-read-only token is enough.

import { badRequest } from '../../../lib/errors.ts';
import { parseCount } from '../../../lib/count.ts';
import { describeZodIssues } from '../../../config/describe.ts';
import { telemetryReportSchema } from '../../../config/telemetry-report.ts';
import { instanceHealth } from '../../telemetry/instances.ts';
import { DEFAULT_STATS_WINDOW, isStatsWindow, STATS_WINDOW_NAMES } from '../../../lib/stats/answer.ts';
import { servicesOfNode } from '../../telemetry/node-scope.ts';
import type { TelemetryState } from '../../telemetry/telemetry.ts';
import { MAX_ERRORS } from '../../telemetry/errors.ts';
import type { Handler } from '../context.ts';
import { requireKnownService } from './known-service.ts';
import type { ApiDeps } from '../deps.ts';
import type { Router } from '../router.ts';

/** A full report (2000 series with dense histograms) stays under this. */
const REPORT_BODY_LIMIT = 8 * 1024 * 1024;

export function addTelemetryRoutes(router: Router<Handler>, deps: ApiDeps, telemetry: TelemetryState): void {
  router.add('PUT', '/v1/mesh/telemetry', async (ctx) => {
    const raw = (await ctx.body(REPORT_BODY_LIMIT)).toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    // The token is checked before the body is judged: without node:write nobody learns what a good report looks like.
    const node = typeof (parsed as { node?: unknown } | undefined)?.node === 'string' ? (parsed as { node: string }).node : '';
    ctx.require({ resource: 'node', access: 'write', name: node });
    if (parsed === undefined) throw badRequest('Invalid telemetry report: the body is not JSON');
    const checked = telemetryReportSchema.safeParse(parsed);
    if (!checked.success) throw badRequest(`Invalid telemetry report: ${describeZodIssues(checked.error)}`);
    const refused = telemetry.report(checked.data, servicesOfNode(deps.store, checked.data.node));
    return { json: { accepted: true, series: checked.data.series.length - refused.series, errors: checked.data.errors.length - refused.errors, refused } };
  });

  router.add('GET', '/v1/mesh/stats', (ctx) => {
    const service = ctx.query.get('service') || undefined;
    ctx.require({ resource: 'service', access: 'read', name: service ?? '' });
    const window = ctx.query.get('window') ?? DEFAULT_STATS_WINDOW;
    if (!isStatsWindow(window)) throw badRequest(`Invalid window "${window}": use ${STATS_WINDOW_NAMES.join(', ')}`);
    if (service !== undefined) requireKnownService(deps.store, service);
    return { json: telemetry.stats(window, instanceHealth(deps.store, service), service) };
  });

  router.add('GET', '/v1/mesh/stats/errors', (ctx) => {
    const service = ctx.query.get('service') || undefined;
    ctx.require({ resource: 'service', access: 'read', name: service ?? '' });
    const text = ctx.query.get('limit') ?? '50';
    const limit = parseCount(text, { min: 1, max: MAX_ERRORS });
    if (limit === undefined) throw badRequest(`Invalid limit "${text}": give a whole number from 1 to ${MAX_ERRORS}`);
    return { json: { errors: telemetry.errors({ limit, ...(service ? { service } : {}) }) } };
  });
}
