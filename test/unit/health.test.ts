import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggregateStatus, allPassing, checksForInstance } from '../../src/control/catalog/health.ts';

test('the worst status wins', () => {
  const table: Array<[string[], string]> = [
    [[], 'passing'],
    [['passing'], 'passing'],
    [['passing', 'warning'], 'warning'],
    [['warning', 'critical', 'passing'], 'critical'],
  ];
  for (const [statuses, want] of table) {
    assert.equal(aggregateStatus(statuses.map((Status) => ({ Status: Status as 'passing' }))), want, statuses.join(','));
  }
});

test('?passing needs every check to pass: a warning is not passing', () => {
  assert.equal(allPassing([{ Status: 'passing' }, { Status: 'passing' }]), true);
  assert.equal(allPassing([{ Status: 'passing' }, { Status: 'warning' }]), false);
  assert.equal(allPassing([{ Status: 'critical' }]), false);
});

test("an instance's checks are its own and its node's, not its neighbours'", () => {
  const checks = [
    { id: 'serfHealth', ServiceID: '' },
    { id: 'web-check', ServiceID: 'web-1' },
    { id: 'api-check', ServiceID: 'api-1' },
  ];
  assert.deepEqual(checksForInstance(checks, 'web-1').map((c) => c.id), ['serfHealth', 'web-check']);
});
