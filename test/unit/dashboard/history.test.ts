import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyHistory, withAnswer, withGap } from '../../../src/dashboard/history.ts';
import { STATS } from '../../fixtures/dashboard-stats.ts';

test('one point per refresh per service, bounded, with gaps for failed reads', () => {
  let history = emptyHistory(3);
  history = withAnswer(history, STATS);
  history = withGap(history);
  history = withAnswer(history, { ...STATS, services: STATS.services.map((s) => ({ ...s, rps: s.rps + 1 })) });
  assert.deepEqual(history.services.get('api'), { rps: [20, null, 21], success: [0.99, null, 0.99], p99: [7.9, null, 7.9] });
  history = withAnswer(history, STATS);
  assert.deepEqual(history.services.get('api')?.rps, [null, 21, 20], 'the oldest point goes');
  assert.deepEqual(history.services.get('idle')?.p99, [null, null, null], 'no requests: no latency');
});

test('a service gone from the answer is dropped; a new one starts with one point', () => {
  const before = withAnswer(emptyHistory(), STATS);
  const after = withAnswer(before, { ...STATS, services: [STATS.services[0]!, { ...STATS.services[1]!, service: 'new' }] });
  assert.deepEqual([...after.services.keys()], ['api', 'new']);
  assert.deepEqual(after.services.get('new')?.rps, [3.5]);
  assert.equal(after.services.get('api')?.rps.length, 2);
});
