import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fit, sparkline, truncate, wrap } from '../../../src/dashboard/format.ts';

test('text is cut with an ellipsis and padded to exactly the width', () => {
  assert.equal(truncate('inventory-reconciliation', 10), 'inventory…');
  assert.equal(truncate('api', 10), 'api');
  assert.equal(truncate('api', 1), '…');
  assert.equal(truncate('api', 0), '');
  assert.equal(fit('api', 6), 'api   ');
  assert.equal(fit('20.0', 6, 'right'), '  20.0');
  assert.equal(fit('frontend→api', 8), 'fronten…');
  assert.equal([...fit('→→→→', 3)].length, 3);
});

test('sparklines scale to the highest value, show gaps, and fill from the right', () => {
  assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8), '▁▂▃▄▅▆▇█');
  assert.equal(sparkline([1, null, 1], 5), '  █ █', 'from 0; null is a gap');
  assert.equal(sparkline([0.95, 0.95], 2, 0.95), '▄▄', 'a series flat at the floor sits mid-height');
  assert.equal(sparkline([0, 0], 2), '▁▁');
  assert.equal(sparkline([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4), sparkline([7, 8, 9, 10], 4), 'only the last points that fit');
  assert.equal(sparkline([0.9, 0.96, 1], 3, 0.9), '▁▅█', 'scaled from the floor');
  assert.equal(sparkline([0.5, 1], 2, 0.9), '▁█', 'values under the floor still show');
  assert.equal(sparkline([1, 2], 0), '');
});

test('wrap keeps words whole and cuts what does not fit the last line', () => {
  assert.deepEqual(wrap('cannot reach the server — fix: start it', 16, 3), ['cannot reach the', 'server — fix:', 'start it']);
  assert.deepEqual(wrap('a b c d e f', 3, 2), ['a b', 'c …']);
  assert.deepEqual(wrap('averyveryverylongword x', 6, 2), ['avery…', 'x']);
});
