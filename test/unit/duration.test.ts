import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatGoDuration, parseGoDuration } from '../../src/lib/duration.ts';

test('Go durations parse to milliseconds', () => {
  const table: Array<[string, number | undefined]> = [
    ['10s', 10_000],
    ['120000ms', 120_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['250us', 0.25],
    ['0', 0],
    ['30', undefined],
    ['', undefined],
    ['10x', undefined],
    ['s', undefined],
    ['1s junk', undefined],
  ];
  for (const [text, want] of table) assert.equal(parseGoDuration(text), want, text);
});

test('durations format as Go prints them', () => {
  assert.equal(formatGoDuration(0), '0s');
  assert.equal(formatGoDuration(250), '250ms');
  assert.equal(formatGoDuration(10_000), '10s');
  assert.equal(formatGoDuration(90_000), '1m30s');
  assert.equal(formatGoDuration(3_600_000), '1h0m0s');
});
