// What a node may report: the side of the traffic its own proxies see. The
// rule (node-scope.ts), the state that applies it to reports, and the log
// that says so at most once a minute per node.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TelemetryReport } from '../../../src/config/telemetry-report.ts';
import { scopeReport, seenByNode, type Sided } from '../../../src/control/telemetry/node-scope.ts';
import { RefusalLog, REFUSAL_LOG_INTERVAL_MS } from '../../../src/control/telemetry/refusal-log.ts';
import { TelemetryState } from '../../../src/control/telemetry/telemetry.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const hosted = new Set(['web']);
const cases: Array<[string, Sided, boolean]> = [
  ['inbound to a service it runs', { direction: 'inbound', source: 'frontend', destination: 'web' }, true],
  ['inbound from outside the mesh to a service it runs', { direction: 'inbound', source: '', destination: 'web' }, true],
  ['outbound from a service it runs', { direction: 'outbound', source: 'web', destination: 'api' }, true],
  ["inbound to another host's service", { direction: 'inbound', source: 'web', destination: 'api' }, false],
  ["outbound from another host's service", { direction: 'outbound', source: 'frontend', destination: 'web' }, false],
  ['outbound with no caller identity', { direction: 'outbound', source: '', destination: 'api' }, false],
];
for (const [name, entry, seen] of cases) test(`a node running web speaks for ${name}: ${seen}`, () => assert.equal(seenByNode(entry, hosted), seen));

const series = (direction: 'inbound' | 'outbound', source: string, destination: string, requests: number) => ({ direction, source, destination, requests, successes: 0, latency: [], tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 });
const forged: TelemetryReport = {
  node: 'host-2',
  series: [series('inbound', 'evil', 'api', 100_000), series('outbound', 'web', 'api', 3)],
  open: [{ direction: 'inbound', source: 'evil', destination: 'api', open: 9 }],
  errors: [{ time: '2024-01-01T00:00:00Z', direction: 'inbound', source: 'web', destination: 'api', status: 500, cause: 'upstream_5xx', hop: 'inbound', method: 'GET', path: '/x' }],
};

test('a report keeps what the node may speak for and says how much it left out', () => {
  const { report, refused } = scopeReport(forged, hosted);
  assert.deepEqual(report.series.map((s) => [s.direction, s.source, s.destination]), [['outbound', 'web', 'api']]);
  assert.deepEqual([report.open, report.errors], [[], []]);
  assert.deepEqual(refused, { series: 1, open: 1, errors: 1 });
});

test('the state counts refused series and errors in the window, and logs once per node per minute', () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  const state = new TelemetryState(clock, (l) => lines.push(l));
  state.report(forged, hosted);
  state.report(forged, hosted);
  clock.advance(1000);
  const stats = state.stats('10s', new Map());
  assert.deepEqual([stats.refusedSeries, stats.refusedErrors], [4, 2]);
  assert.deepEqual(stats.services.map((s) => s.service), [], "api's forged inbound traffic makes no row");
  assert.deepEqual(stats.edges.map((e) => [e.source, e.destination, e.requests]), [['web', 'api', 6]]);
  assert.equal(state.errors({ limit: 10 }).length, 0);
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /refused 1 series, 1 open-connection gauges and 1 errors from node "host-2".*inbound evil → api/);
});

test('refusals between two lines are summed into the next one; each node has its own minute', () => {
  const lines: string[] = [];
  const log = new RefusalLog((l) => lines.push(l));
  const one = { series: 1, open: 0, errors: 0 };
  log.note('a', one, 'x', 0);
  log.note('a', one, 'x', 1000);
  log.note('b', one, 'x', 1000);
  log.note('a', { series: 0, open: 0, errors: 0 }, 'x', REFUSAL_LOG_INTERVAL_MS);
  log.note('a', one, 'x', REFUSAL_LOG_INTERVAL_MS);
  assert.deepEqual(lines.map((l) => /refused (\d+) series.*node "(\w)"/.exec(l)?.slice(1)), [['1', 'a'], ['1', 'b'], ['2', 'a']]);
});
