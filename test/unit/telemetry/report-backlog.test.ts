// The reporter's backlog: slices of 10 seconds, bounded, expired with the
// server's window; and the reporter sending it after an outage, each report
// with its age.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReportBacklog } from '../../../src/agent/telemetry/report-backlog.ts';
import { SummarySink } from '../../../src/agent/telemetry/summary.ts';
import { TelemetryReporter } from '../../../src/agent/telemetry/reporter.ts';
import { REPORT_LIMITS, REPORT_MAX_AGE_MS, type TelemetryReport } from '../../../src/config/telemetry-report.ts';
import type { HttpRecord } from '../../../src/proxy/telemetry/records.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const rec = (over: Partial<HttpRecord> = {}): HttpRecord => ({
  direction: 'inbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/x', status: 200, mtls: true, startedAt: 0, durationMs: 4, requestBytes: 0, responseBytes: 0, ...over,
});

/** A delta of `n` requests (on `source`'s series), as the summary hands it over. */
function delta(n: number, source = 'web') {
  const sink = new SummarySink(new FakeClock());
  for (let i = 0; i < n; i++) sink.http(rec({ source, status: i === 0 ? 500 : 200 }));
  return sink.take();
}

test('deltas taken in the same 10 seconds share a slice, stamped with the newest; the next 10 seconds start another', () => {
  const backlog = new ReportBacklog();
  backlog.add(delta(3), 21_000);
  backlog.add(delta(4), 29_999);
  backlog.add(delta(5), 30_000);
  assert.equal(backlog.length, 2);
  const first = backlog.first(30_000)!;
  assert.deepEqual([first.takenAt, first.series.get('inbound\u0000web\u0000api')?.requests, first.errors.length], [29_999, 7, 2]);
  backlog.shift();
  assert.deepEqual([backlog.first(30_000)?.takenAt, backlog.first(30_000)?.series.get('inbound\u0000web\u0000api')?.requests], [30_000, 5]);
});

test('a slice holds at most REPORT_LIMITS.series series and the newest errors; older than the server keeps, it goes; both count what was lost', () => {
  const backlog = new ReportBacklog();
  for (let i = 0; i < REPORT_LIMITS.series; i++) backlog.add(delta(1, `s${i}`), 1000);
  backlog.add(delta(6, 'one-too-many'), 2000);
  assert.equal(backlog.first(2000)?.series.size, REPORT_LIMITS.series);
  assert.equal(backlog.first(2000)?.errors.length, REPORT_LIMITS.errors);
  assert.equal(backlog.dropped, 6);
  backlog.add(delta(2), 50_000);
  assert.equal(backlog.first(2000 + REPORT_MAX_AGE_MS + 1)?.takenAt, 50_000, 'the first slice expired');
  assert.equal(backlog.dropped, 6 + REPORT_LIMITS.series);
  assert.equal(backlog.first(50_000 + REPORT_MAX_AGE_MS + 1), undefined);
});

test('after a 30 s outage the reporter sends the backlog oldest first, each report with its age, and loses no request', async () => {
  const clock = new FakeClock();
  const summary = new SummarySink(clock);
  const sent: TelemetryReport[] = [];
  const log: string[] = [];
  let down = true;
  const reporter = new TelemetryReporter({ node: 'host-1', summary, clock, log: (l) => log.push(l), send: async (r) => {
    if (down) throw new Error('server unreachable');
    sent.push(r);
  } });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const start = clock.now();
  let made = 0;
  for (let s = 1; s <= 31; s++) {
    for (let i = 0; i < s; i++, made++) summary.http(rec());
    if (s === 31) down = false;
    clock.advance(1000);
    await reporter.tick();
    await settle();
  }
  const total = sent.reduce((n, r) => n + (r.series[0]?.requests ?? 0), 0);
  assert.equal(total, made, 'every request reported once');
  // Taken at 1..31 s: slices for 0-9, 10-19, 20-29 (newest at 9, 19, 29 s) and 30-31 s, sent at 31 s.
  assert.deepEqual(sent.map((r) => r.ageMs ?? 0), [22_000, 12_000, 2_000, 0]);
  assert.deepEqual(sent.map((r) => r.series[0]?.requests), [45, 145, 245, 61]);
  assert.equal(clock.now() - start, 31_000);
  assert.deepEqual(log, ['telemetry: report failed, its counts go out when the server answers again: server unreachable', 'telemetry: reports reach the server again']);
});
