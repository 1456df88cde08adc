// The stats figures as `meshctl stat` and the dashboard both print them
// (src/lib/stats/format.ts): golden cases at every edge of every rule.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCount, formatMs, formatRps, formatSuccess } from '../../../src/lib/stats/format.ts';

type Case = [number | null | undefined, string];
const check = (format: (v: number | null | undefined) => string, cases: readonly Case[]) => {
  for (const [value, want] of cases) assert.equal(format(value), want, `${format.name}(${value})`);
};

test('a success rate below 100% never prints as 100%, and one above 0% never as 0%', () => {
  check(formatSuccess, [
    [null, '-'],
    [undefined, '-'],
    [Number.NaN, '-'],
    [1, '100.00%'],
    [0, '0.00%'],
    [0.99996, '99.99%'],
    [0.999999999, '99.99%'],
    [1 - Number.EPSILON, '99.99%'],
    [0.99994, '99.99%'],
    [0.9999, '99.99%'],
    [0.99986, '99.99%'],
    [0.9998, '99.98%'],
    [0.995, '99.50%'],
    [0.99, '99.00%'],
    [6 / 7, '85.71%'],
    [0.9, '90.00%'],
    [0.5, '50.00%'],
    [0.0001, '0.01%'],
    [0.00004, '0.01%'],
    [Number.MIN_VALUE, '0.01%'],
  ]);
  // Every rate strictly between 0 and 1 prints strictly between the two claims.
  for (let failed = 1; failed <= 3; failed++) {
    for (const requests of [1e3, 1e4, 1e5, 1e6, 1e7, 123_457]) {
      assert.equal(formatSuccess((requests - failed) / requests).startsWith('100'), false, `${failed} failed of ${requests}`);
      assert.notEqual(formatSuccess(failed / requests), '0.00%', `${failed} succeeded of ${requests}`);
    }
  }
});

test('the success rate is the nearest two-decimal value, as the e2e test computes it', () => {
  // test/e2e/stat.test.ts expects (rate * 100).toFixed(2): the same rounding, away from the clamped ends.
  for (const [ok, sent] of [[857, 1000], [6, 7], [2, 3], [1, 3], [823, 960], [12_001, 14_000]] as const) {
    assert.equal(formatSuccess(ok / sent), `${((ok / sent) * 100).toFixed(2)}%`, `${ok}/${sent}`);
  }
});

test('a request rate above 0 never prints as idle; large rates are shortened', () => {
  check(formatRps, [
    [null, '-'],
    [undefined, '-'],
    [Number.NaN, '-'],
    [Number.POSITIVE_INFINITY, '-'],
    [0, '0'],
    [-1, '0'],
    [0.00004, '<0.01'],
    [0.002, '<0.01'],
    [0.0049, '<0.01'],
    [0.005, '0.01'],
    [0.42, '0.42'],
    [3.5, '3.50'],
    [9.994, '9.99'],
    [9.996, '10.0'],
    [20, '20.0'],
    [99.96, '100'],
    [123.4, '123'],
    [999.4, '999'],
    [999.6, '1.0k'],
    [1234, '1.2k'],
    [1234.5, '1.2k'],
    [9999, '10k'],
    [12_345, '12k'],
    [999_999, '1.0M'],
    [2_500_000, '2.5M'],
    [12_345_678, '12M'],
  ]);
});

test('a latency keeps its unit and its precision to the magnitude', () => {
  check(formatMs, [
    [null, '-'],
    [undefined, '-'],
    [Number.NaN, '-'],
    [0, '0.00ms'],
    [0.004, '0.00ms'],
    [0.42, '0.42ms'],
    [0.999, '1.0ms'],
    [7.9, '7.9ms'],
    [41.5, '41.5ms'],
    [99.96, '100ms'],
    [120.4, '120ms'],
    [9999, '9999ms'],
    [9999.6, '10.0s'],
    [15_000, '15.0s'],
    [150_000, '150s'],
  ]);
});

test('a count is exact while it fits a column, then shortened', () => {
  check(formatCount, [
    [null, '-'],
    [undefined, '-'],
    [Number.NaN, '-'],
    [0, '0'],
    [3, '3'],
    [12_340, '12340'],
    [99_999, '99999'],
    [100_000, '100k'],
    [123_456, '123k'],
    [999_499, '999k'],
    [999_500, '1.0M'],
    [1_234_567, '1.2M'],
    [12_345_678, '12M'],
  ]);
});

test('every figure fits its dashboard column at every magnitude', () => {
  // The dashboard's columns: RPS 7 (edges 8), SUCCESS 7, latency 7, TCP 5, REQS 8.
  for (let exponent = -6; exponent <= 9; exponent += 0.25) {
    const value = 10 ** exponent;
    assert.ok(formatRps(value).length <= 6, `rps ${value}: ${formatRps(value)}`);
    // Latencies up to 10^7 ms (close to three hours: far past any deadline the proxy enforces).
    if (exponent <= 7) assert.ok(formatMs(value).length <= 7, `ms ${value}: ${formatMs(value)}`);
    assert.ok(formatCount(Math.round(value)).length <= 5, `count ${value}: ${formatCount(Math.round(value))}`);
  }
  for (let rate = 0; rate <= 1; rate += 0.0137) assert.ok(formatSuccess(rate).length <= 7, `success ${rate}`);
});
