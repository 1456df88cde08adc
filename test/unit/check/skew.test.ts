// Clock skew from a one-second Date header: flagged only when the skew is
// certain, whatever the rounding and the round trip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateSkew, skewInterval } from '../../../src/cli/check/skew.ts';

const T = Date.parse('2026-05-01T12:00:00.000Z');
const at = (offsetMs: number, rtt = 20, hostMsIntoSecond = 400) => {
  // The server reads its clock halfway through the round trip; the header drops the milliseconds.
  const sentAt = T + hostMsIntoSecond;
  const serverNow = sentAt + rtt / 2 + offsetMs;
  return { sentAt, receivedAt: sentAt + rtt, serverDate: new Date(Math.floor(serverNow / 1000) * 1000).toUTCString() };
};

test('the server offset is bracketed by the header resolution and the round trip', () => {
  const interval = skewInterval(at(5_000))!;
  assert.ok(interval.low <= 5_000 && 5_000 <= interval.high, JSON.stringify(interval));
  assert.ok(interval.high - interval.low <= 1_020);
  assert.equal(skewInterval({ sentAt: 0, receivedAt: 1, serverDate: undefined }), undefined);
  assert.equal(skewInterval({ sentAt: 0, receivedAt: 1, serverDate: 'yesterday' }), undefined);
});

test('pass within a second, warn past 1 s, fail past 30 s, either way round', () => {
  const cases: Array<[string, number, number, 'pass' | 'warn' | 'fail']> = [
    ['in sync', 0, 20, 'pass'],
    ['0.9 s ahead', 900, 20, 'pass'],
    ['2.5 s ahead', 2_500, 20, 'warn'],
    ['2.5 s behind', -2_500, 20, 'warn'],
    ['29 s ahead', 29_000, 20, 'warn'],
    ['45 s ahead', 45_000, 20, 'fail'],
    ['5 min behind', -300_000, 20, 'fail'],
    // A slow answer widens the interval: 2.5 s of skew cannot be told from 0 over a 6 s round trip.
    ['2.5 s ahead over a 6 s round trip', 2_500, 6_000, 'pass'],
  ];
  for (const [what, offset, rtt, status] of cases) {
    for (const intoSecond of [0, 400, 999]) assert.equal(evaluateSkew(at(offset, rtt, intoSecond)).status, status, `${what} (${intoSecond} ms into the second)`);
  }
});

test('the detail says which way and how far; a missing header only warns', () => {
  assert.match(evaluateSkew(at(45_000)).detail, /the server's clock is 4\d s ahead of this host's \(±0\.5 s\)/);
  assert.match(evaluateSkew(at(-45_000)).detail, /behind/);
  assert.match(evaluateSkew(at(45_000)).hint!, /timedatectl set-ntp true/);
  const missing = evaluateSkew({ sentAt: T, receivedAt: T + 5, serverDate: undefined });
  assert.equal(missing.status, 'warn');
  assert.match(missing.detail, /no usable Date header/);
});
