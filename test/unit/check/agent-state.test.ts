// What the catalog and iptables say about a joined host: its instance
// registered and passing, and transparent mode's rules in place.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateRegistration, type HealthEntry } from '../../../src/cli/check/registration.ts';
import { evaluateRules } from '../../../src/cli/check/rules.ts';

const entry = (node: string, id: string, statuses: string[]): HealthEntry => ({
  Node: { Node: node },
  Service: { ID: id },
  Checks: statuses.map((Status, i) => ({ CheckID: `c${i}`, Status, Output: Status === 'passing' ? '' : 'HTTP GET http://127.0.0.1:8080/health: 500' })),
});

test("this node's instance: passing passes, warning warns, critical or missing fails", () => {
  const cases: Array<[string, HealthEntry[], 'pass' | 'warn' | 'fail', RegExp]> = [
    ['passing', [entry('a', 'web', ['passing', 'passing'])], 'pass', /^2 checks passing$/],
    ['no checks', [entry('a', 'web', [])], 'pass', /^0 checks passing$/],
    ['warning', [entry('a', 'web', ['passing', 'warning'])], 'warn', /^c1 warning: HTTP GET/],
    ['critical', [entry('a', 'web', ['critical', 'warning'])], 'fail', /^c0 critical: HTTP GET/],
    ['another node has it', [entry('b', 'web', ['passing'])], 'fail', /instance web of node a is not in the catalog/],
    ['another instance id on this node', [entry('a', 'web-2', ['passing'])], 'fail', /not in the catalog/],
    ['empty catalog', [], 'fail', /not in the catalog/],
  ];
  for (const [what, entries, status, detail] of cases) {
    const verdict = evaluateRegistration(entries, 'a', 'web');
    assert.equal(verdict.status, status, what);
    assert.match(verdict.detail, detail, what);
  }
});

test('transparent rules: the IPv4 nat rules must be there', () => {
  const nat4 = { family: 4 as const, table: 'nat', lines: [':MESH_OUTPUT - [0:0]', '-A OUTPUT -p tcp -j MESH_OUTPUT', '-A MESH_OUTPUT -j REDIRECT --to-ports 15001'] };
  const filter6 = { family: 6 as const, table: 'filter', lines: ['-A MESH_REFUSE_OUTPUT -j REJECT'] };
  assert.deepEqual(evaluateRules([nat4, filter6]), { status: 'pass', detail: 'IPv4 nat: 2 rules, IPv6 filter: 1 rules', hint: null });
  const missing = evaluateRules([filter6]);
  assert.equal(missing.status, 'fail');
  assert.match(missing.detail, /IPv4 nat rules are missing/);
  assert.match(missing.hint!, /restart the agent/);
  assert.equal(evaluateRules([{ ...nat4, lines: [':MESH_OUTPUT - [0:0]'] }]).status, 'fail', 'chains without rules redirect nothing');
});
