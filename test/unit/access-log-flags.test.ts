// join's access log flags → the agent config's accessLog block, as a table;
// and what the agent config's schema accepts for it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { ACCESS_LOG_FLAG_DEFAULTS, accessLogConfig, sizeText, type AccessLogFlags } from '../../src/cli/access-log-flags.ts';
import { addJoinCommands } from '../../src/cli/join.ts';
import { accessLogSettings } from '../../src/agent/telemetry/access-log-file.ts';
import { ACCESS_LOG_DEFAULTS, agentConfigSchema } from '../../src/agent/config/agent-config.ts';
import { MeshError } from '../../src/lib/errors.ts';

const accepted: Array<[string, AccessLogFlags, unknown]> = [
  ['no flags: nothing written, the defaults apply', {}, {}],
  ['the defaults spelled out: the same', { accessLogMaxSize: '100MB', accessLogKeep: '5' }, {}],
  ['off', { accessLog: 'off', accessLogMaxSize: '1GB' }, { accessLog: 'off' }],
  ['a path, made absolute', { accessLog: '/var/log/meshctl/access.log' }, { accessLog: { path: '/var/log/meshctl/access.log', maxBytes: 100 * 1024 * 1024, keep: 5 } }],
  ['a size in KB and a count', { accessLogMaxSize: '512KB', accessLogKeep: '2' }, { accessLog: { maxBytes: 512 * 1024, keep: 2 } }],
  ['GiB, lower case', { accessLogMaxSize: '1gib' }, { accessLog: { maxBytes: 1024 ** 3, keep: 5 } }],
  ['plain bytes', { accessLogMaxSize: '4096' }, { accessLog: { maxBytes: 4096, keep: 5 } }],
];
for (const [name, flags, expected] of accepted) {
  test(`join --access-log flags: ${name}`, () => assert.deepEqual(accessLogConfig(flags), expected));
}

const refused: Array<[AccessLogFlags, RegExp]> = [
  [{ accessLogMaxSize: '12XB' }, /--access-log-max-size "12XB" is not a size of at least 1KB/],
  [{ accessLogMaxSize: '100' }, /--access-log-max-size "100" is not a size of at least 1KB/],
  [{ accessLogKeep: '0' }, /--access-log-keep "0" is not a number of files/],
  [{ accessLogKeep: 'many' }, /--access-log-keep "many" is not a number of files/],
];
for (const [flags, message] of refused) {
  test(`join refuses ${JSON.stringify(flags)} with a usage error naming the flag and the fix`, () => {
    assert.throws(() => accessLogConfig(flags), (error: MeshError) => error.code === 'MESH_E_USAGE' && message.test(error.message) && /use --access-log/.test(error.hint ?? ''));
  });
}

test('the agent config accepts off or a block, and refuses a relative path and unknown keys', () => {
  const accessLog = agentConfigSchema.shape.accessLog;
  assert.equal(accessLog.safeParse('off').success, true);
  assert.equal(accessLog.safeParse({ path: '/x/access.log', maxBytes: 4096, keep: 3 }).success, true);
  assert.equal(accessLog.safeParse({ path: 'access.log' }).success, false);
  assert.equal(accessLog.safeParse({ size: 10 }).success, false);
  assert.equal(accessLog.safeParse('on').success, false);
});

test("join's flag defaults are the agent config's: what join shows as the default is what the agent does without the flags", () => {
  const join = new Command().exitOverride();
  addJoinCommands(join);
  const options = join.commands.find((c) => c.name() === 'join')?.options ?? [];
  const defaultOf = (flag: string) => options.find((o) => o.long === flag)?.defaultValue;
  assert.deepEqual([defaultOf('--access-log-max-size'), defaultOf('--access-log-keep')], [ACCESS_LOG_FLAG_DEFAULTS.maxSize, ACCESS_LOG_FLAG_DEFAULTS.keep]);
  assert.deepEqual(accessLogConfig({ accessLogMaxSize: ACCESS_LOG_FLAG_DEFAULTS.maxSize, accessLogKeep: ACCESS_LOG_FLAG_DEFAULTS.keep }), {}, 'the defaults spelled out write nothing');
  const applied = accessLogSettings({ dataDir: '/var/lib/meshctl' });
  assert.deepEqual([applied?.maxBytes, applied?.keep], [ACCESS_LOG_DEFAULTS.maxBytes, ACCESS_LOG_DEFAULTS.keep]);
});

test('sizes print in the largest unit that divides them, and read back as the same bytes', () => {
  for (const [bytes, text] of [[100 * 1024 * 1024, '100MB'], [1024, '1KB'], [1536, '1536B'], [3 * 1024 ** 3, '3GB'], [512 * 1024, '512KB']] as const) {
    assert.equal(sizeText(bytes), text);
    assert.deepEqual(accessLogConfig({ accessLogMaxSize: text, accessLogKeep: '2' }), { accessLog: { maxBytes: bytes, keep: 2 } });
  }
});
