import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttemptOutcome } from '../../../src/proxy/resilience/outcome.ts';
import { OutlierDetector, type OutlierOptions } from '../../../src/proxy/resilience/outlier.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const r = (status: number): AttemptOutcome => ({ kind: 'response', status });
const fail = r(503);
const ok = r(200);

function detector(ids: readonly string[], extra: Partial<OutlierOptions> = {}) {
  const clock = new FakeClock();
  const events: string[] = [];
  const d = new OutlierDetector({
    consecutiveErrors: 5,
    baseEjectionMs: 30_000,
    maxEjectionPercent: 10,
    clock,
    onEject: (id, ms) => events.push(`eject ${id} ${ms / 1000}s`),
    onReturn: (id, why) => events.push(`return ${id} ${why}`),
    ...extra,
  });
  d.setEndpoints(ids);
  return { clock, d, events };
}

const failTimes = (d: OutlierDetector, id: string, n: number, outcome = fail) => {
  for (let i = 0; i < n; i++) d.record(id, outcome);
};

test('which runs of outcomes eject', () => {
  const table: Array<[string, AttemptOutcome[], boolean]> = [
    ['five 503s', [fail, fail, fail, fail, fail], true],
    ['four 503s', [fail, fail, fail, fail], false],
    ['four 503s, a 200, four 503s', [fail, fail, fail, fail, ok, fail, fail, fail, fail], false],
    ['a 404 is an answer: it resets the count', [fail, fail, fail, fail, r(404), fail], false],
    ['500s count, as any 5xx', [r(500), r(500), r(500), r(500), r(500)], true],
    ['failures without an answer count', [{ kind: 'connect-failure' }, { kind: 'reset' }, { kind: 'timeout' }, { kind: 'refused-stream' }, r(502)], true],
  ];
  for (const [name, outcomes, ejects] of table) {
    const { d } = detector(['a', 'b', 'c']);
    for (const o of outcomes) d.record('a', o);
    assert.equal(d.ejected().has('a'), ejects, name);
  }
});

test('the ejection lasts base × ejections (30 s, then 60 s), and the endpoint returns when it ends', () => {
  const { clock, d, events } = detector(['a', 'b', 'c']);
  failTimes(d, 'a', 5);
  clock.advance(29_999);
  assert.equal(d.ejected().has('a'), true);
  clock.advance(1);
  assert.equal(d.ejected().has('a'), false, 'back after 30 s');
  failTimes(d, 'a', 5);
  clock.advance(59_999);
  assert.equal(d.ejected().has('a'), true, 'the second ejection lasts 60 s');
  clock.advance(1);
  assert.deepEqual(d.ejected(), new Set());
  assert.deepEqual(events, ['eject a 30s', 'return a expired', 'eject a 60s', 'return a expired']);
});

test('the multiplier decays by one for each base period the endpoint stays in', () => {
  const { clock, d, events } = detector(['a', 'b', 'c']);
  failTimes(d, 'a', 5);
  clock.advance(30_000);
  failTimes(d, 'a', 5); // 60 s
  clock.advance(60_000 + 30_000); // back, then in for 30 s: 2 → 1
  failTimes(d, 'a', 5);
  clock.advance(60_000 + 60_000); // back, then in for 60 s: 2 → 0
  failTimes(d, 'a', 5);
  assert.deepEqual(events.filter((e) => e.startsWith('eject')), ['eject a 30s', 'eject a 60s', 'eject a 60s', 'eject a 30s']);
});

test('an ejection never lasts longer than maxEjectionMs (default 300 s)', () => {
  const { clock, d, events } = detector(['a', 'b', 'c']);
  for (let i = 0; i < 12; i++) {
    failTimes(d, 'a', 5);
    clock.advance(Number(events.at(-1)?.split(' ')[2]?.replace('s', '')) * 1000); // fails again the moment it is back
  }
  const times = events.filter((e) => e.startsWith('eject')).map((e) => e.split(' ')[2]);
  assert.deepEqual(times, ['30s', '60s', '90s', '120s', '150s', '180s', '210s', '240s', '270s', '300s', '300s', '300s']);
  const short = detector(['a', 'b', 'c'], { maxEjectionMs: 45_000 });
  failTimes(short.d, 'a', 5);
  short.clock.advance(30_000);
  failTimes(short.d, 'a', 5);
  assert.deepEqual(short.events, ['eject a 30s', 'return a expired', 'eject a 45s']);
});

test('outcomes while ejected neither count nor eject again', () => {
  const { clock, d, events } = detector(['a', 'b', 'c']);
  failTimes(d, 'a', 5);
  failTimes(d, 'a', 20);
  clock.advance(30_000);
  failTimes(d, 'a', 4);
  assert.equal(d.ejected().has('a'), false, 'the count starts again after the return');
  assert.deepEqual(events, ['eject a 30s', 'return a expired']);
});

test('the cap: at most maxEjectionPercent, but at least one', () => {
  const table: Array<[endpoints: number, percent: number, failing: number, ejected: number]> = [
    [3, 10, 2, 1],
    [10, 10, 3, 1],
    [19, 10, 3, 1],
    [20, 10, 5, 2],
    [10, 50, 8, 5],
    [10, 0, 3, 1],
    [4, 100, 4, 4],
  ];
  for (const [n, percent, failing, want] of table) {
    const ids = Array.from({ length: n }, (_, i) => `e${i}`);
    const { d } = detector(ids, { maxEjectionPercent: percent });
    for (let e = 0; e < failing; e++) failTimes(d, `e${e}`, 5);
    assert.equal(d.ejected().size, want, `${n} endpoints at ${percent}%, ${failing} failing`);
  }
});

test('an endpoint the cap held back is ejected at its next error once a slot frees', () => {
  const { clock, d } = detector(['a', 'b', 'c']);
  failTimes(d, 'a', 5);
  failTimes(d, 'b', 5);
  assert.deepEqual(d.ejected(), new Set(['a']));
  clock.advance(30_000);
  d.record('b', fail);
  assert.deepEqual(d.ejected(), new Set(['b']));
});

test('panic: when fewer than two endpoints would be left, nothing is excluded', () => {
  const three = detector(['a', 'b', 'c']);
  failTimes(three.d, 'a', 5);
  assert.equal(three.d.panic(), false);
  assert.deepEqual(three.d.effectiveExclusions(), new Set(['a']));

  const two = detector(['a', 'b']);
  failTimes(two.d, 'a', 5);
  assert.deepEqual(two.d.ejected(), new Set(['a']));
  assert.equal(two.d.panic(), true, 'one left of two');
  assert.deepEqual(two.d.effectiveExclusions(), new Set(), 'load spreads over both');
  two.clock.advance(30_000);
  assert.equal(two.d.panic(), false, 'panic ends with the ejection');

  const one = detector(['a']);
  assert.equal(one.d.panic(), false, 'nothing ejected, no panic');
  failTimes(one.d, 'a', 5);
  assert.equal(one.d.panic(), true);
  assert.deepEqual(one.d.effectiveExclusions(), new Set());

  const twenty = detector(Array.from({ length: 20 }, (_, i) => `e${i}`));
  for (let e = 0; e < 2; e++) failTimes(twenty.d, `e${e}`, 5);
  assert.equal(twenty.d.effectiveExclusions().size, 2);
});

test('setEndpoints forgets endpoints that leave and starts new ones clean', () => {
  const { d, events } = detector(['a', 'b', 'c']);
  failTimes(d, 'a', 5);
  failTimes(d, 'b', 4);
  d.setEndpoints(['b', 'c', 'd']);
  assert.deepEqual(d.ejected(), new Set());
  assert.deepEqual(events, ['eject a 30s', 'return a removed']);
  d.record('b', fail);
  assert.deepEqual(d.ejected(), new Set(['b']), 'b kept its count of four');
  d.record('gone', fail);
  d.setEndpoints(['a', 'c', 'd']);
  failTimes(d, 'a', 4);
  assert.deepEqual(d.ejected(), new Set(), 'a came back with no history');
});

test('the cap is computed on the current set', () => {
  const { d } = detector(Array.from({ length: 20 }, (_, i) => `e${i}`));
  d.setEndpoints(['e0', 'e1', 'e2']);
  failTimes(d, 'e0', 5);
  failTimes(d, 'e1', 5);
  assert.equal(d.ejected().size, 1);
});

test('bad options are refused with the field and value', () => {
  const clock = new FakeClock();
  const base = { consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 10, clock };
  const table: Array<[Partial<OutlierOptions>, RegExp]> = [
    [{ consecutiveErrors: 0 }, /consecutiveErrors must be a whole number, 1 or more, got 0/],
    [{ consecutiveErrors: 2.5 }, /consecutiveErrors/],
    [{ baseEjectionMs: 0 }, /baseEjectionMs must be more than 0, got 0/],
    [{ maxEjectionPercent: 101 }, /maxEjectionPercent must be between 0 and 100, got 101/],
  ];
  for (const [bad, message] of table) assert.throws(() => new OutlierDetector({ ...base, ...bad }), message);
  assert.doesNotThrow(() => new OutlierDetector({ ...base, consecutiveErrors: Number.MAX_SAFE_INTEGER }), 'how the cluster turns detection off');
});
