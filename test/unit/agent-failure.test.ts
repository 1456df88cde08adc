// Why a supervised agent stopped, read from the part of agent.log written
// since join started it: nothing while it runs; once the supervisor notes an
// exit, the agent's own last error line (which may come after the note) and
// how it ended.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentFailure, lastLines } from '../../src/agent/supervisor/agent-failure.ts';

const started = '2026-11-27T08:00:00.000Z [supervisor] agent started, pid 42';
const snapshot = '2026-11-27T08:00:00.100Z loaded the last snapshot from disk (saved x, config version 3)';
const error = 'error: the agent cannot serve metrics on port 15090 (127.0.0.1 and 10.0.0.5): EADDRINUSE (another agent may use it: join with --metrics-port PORT)';
const exited = (status: string) => `2026-11-27T08:00:00.200Z [supervisor] agent exited (${status}); restarting in 250 ms (crash 1 in a row)`;

const cases: Array<[string, string[], ReturnType<typeof agentFailure>]> = [
  ['nothing written yet', [], undefined],
  ['running, not exited', [started, snapshot], undefined],
  ['an error line but no exit yet: still starting to stop', [started, error], undefined],
  ['exited with its error first', [started, error, exited('code 2')], { error: error.slice('error: '.length), status: 'code 2', exitCode: 2 }],
  ['the error reaches the log after the note', [started, exited('code 1'), error], { error: error.slice('error: '.length), status: 'code 1', exitCode: 1 }],
  ['coloured (a TTY somewhere)', [started, `\x1b[31merror:\x1b[39m cannot write the access log /proc/x/access.log: ENOENT`, exited('code 1')], { error: 'cannot write the access log /proc/x/access.log: ENOENT', status: 'code 1', exitCode: 1 }],
  ['killed, no error line', [started, exited('SIGKILL')], { error: undefined, status: 'SIGKILL', exitCode: undefined }],
  ['restarted and failed again: the first exit, the last error', [started, error, exited('code 2'), started, error, exited('code 2')], { error: error.slice('error: '.length), status: 'code 2', exitCode: 2 }],
  ['a log line that merely mentions error: is not the agent\'s fatal line', [started, '2026-11-27T08:00:00.150Z check web is now critical: error: refused', exited('code 1')], { error: undefined, status: 'code 1', exitCode: 1 }],
];
for (const [name, lines, expected] of cases) {
  test(`agent failure from the log: ${name}`, () => assert.deepEqual(agentFailure(lines.join('\n')), expected));
}

test('the last lines, trimmed, blank ones and colour left out', () => {
  assert.deepEqual(lastLines(`a\n\n  b  \n\x1b[31mc\x1b[39m\n`, 2), ['b', 'c']);
  assert.deepEqual(lastLines('', 3), []);
});
