// How `meshctl check` prints: linkerd's layout, warnings that do not fail the run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeOf, formatLine, formatReport, humanDuration, reportJson } from '../../../src/cli/check/format.ts';
import type { CheckResult } from '../../../src/cli/check/result.ts';

const pass: CheckResult = { group: 'server', name: 'server reachable', status: 'pass', detail: 'http://127.0.0.1:8500, from --server', hint: null };
const fail: CheckResult = { group: 'server', name: 'token valid', status: 'fail', detail: 'the server does not know this token', hint: 'pass another with --token' };
const warn: CheckResult = { group: 'host', name: 'iptables backend usable', status: 'warn', detail: 'not root', hint: 'run with sudo' };

test('each status prints its mark; failures and warnings carry their detail and hint indented under the line', () => {
  const cases: Array<[CheckResult, string]> = [
    [pass, '√ server reachable (http://127.0.0.1:8500, from --server)'],
    [{ ...pass, detail: '' }, '√ server reachable'],
    [fail, '× token valid\n    the server does not know this token\n    hint: pass another with --token'],
    [warn, '‼ iptables backend usable\n    not root\n    hint: run with sudo'],
  ];
  for (const [result, expected] of cases) assert.equal(formatLine(result), expected, result.name);
});

test('the report has a heading per group in order of appearance and a verdict line', () => {
  assert.equal(
    formatReport([pass, warn]),
    'meshctl server\n--------------\n√ server reachable (http://127.0.0.1:8500, from --server)\n\nthis host\n---------\n‼ iptables backend usable\n    not root\n    hint: run with sudo\n\nStatus check results are √ (1 warning)\n',
  );
  assert.match(formatReport([pass, fail]), /\n\nStatus check results are ×\n$/);
});

test('warnings allowed, failures not: the exit status and the JSON say the same', () => {
  const cases: Array<[CheckResult[], number]> = [
    [[pass], 0],
    [[pass, warn], 0],
    [[pass, warn, fail], 1],
    [[], 0],
  ];
  for (const [results, code] of cases) {
    assert.equal(exitCodeOf(results), code);
    assert.equal(reportJson(results).ok, code === 0);
  }
  assert.deepEqual(reportJson([fail]), { checks: [{ group: 'server', name: 'token valid', status: 'fail', detail: 'the server does not know this token', hint: 'pass another with --token' }], ok: false });
});

test('durations are coarse and readable', () => {
  const cases: Array<[number, string]> = [
    [1_234, '1.2 s'],
    [-2_500, '-2.5 s'],
    [45_000, '45 s'],
    [12 * 60_000, '12 min'],
    [3.5 * 3_600_000, '3.5 h'],
    [48 * 3_600_000, '2.0 d'],
  ];
  for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, String(ms));
});
