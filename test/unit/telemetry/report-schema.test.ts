import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REPORT_MAX_AGE_MS, telemetryReportSchema } from '../../../src/config/telemetry-report.ts';
import { HISTOGRAM_BUCKETS } from '../../../src/lib/latency-histogram.ts';

const report = (latency: unknown) => ({
  node: 'host-1',
  series: [{ direction: 'inbound', source: 'web', destination: 'api', requests: 1, successes: 1, latency, tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 }],
  open: [],
  errors: [],
});

test('a series histogram is at most one entry per bucket, each a bucket that exists: the server merges no more than that', () => {
  const full = Array.from({ length: HISTOGRAM_BUCKETS }, (_, b) => [b, 1]);
  assert.equal(telemetryReportSchema.safeParse(report(full)).success, true, `all ${HISTOGRAM_BUCKETS} buckets`);
  const cases: Array<[string, unknown, RegExp]> = [
    ['one entry more than there are buckets', [...full, [0, 1]], /series\.0\.latency/],
    ['a bucket past the last', [[HISTOGRAM_BUCKETS, 1]], /series\.0\.latency\.0\.0/],
    ['a negative bucket', [[-1, 1]], /series\.0\.latency/],
    ['a fractional bucket', [[1.5, 1]], /series\.0\.latency/],
    ['a negative count', [[1, -1]], /series\.0\.latency/],
  ];
  for (const [name, latency, path] of cases) {
    const checked = telemetryReportSchema.safeParse(report(latency));
    assert.equal(checked.success, false, name);
    assert.match(JSON.stringify(checked.error?.issues.map((i) => i.path.join('.'))), path, name);
  }
});

test('ageMs: a whole number of milliseconds from 0 to the 10 minutes the server keeps, or absent', () => {
  const withAge = (ageMs: unknown) => telemetryReportSchema.safeParse({ ...report([]), ageMs }).success;
  assert.deepEqual([0, 1, 30_000, REPORT_MAX_AGE_MS].map(withAge), [true, true, true, true]);
  assert.deepEqual([-1, REPORT_MAX_AGE_MS + 1, 1.5, '100', null].map(withAge), [false, false, false, false, false]);
  assert.equal(telemetryReportSchema.safeParse(report([])).success, true);
});
