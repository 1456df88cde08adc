// The systemd unit: rendered text against a golden file (UPDATE_GOLDEN=1
// rewrites it; review the diff), argv escaping and unit names as tables, and
// install/remove against a fake systemctl and a temp unit dir.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_UNIT_NAME,
  escapeExecArg,
  execStartLine,
  installUnit,
  isSystemdPid1,
  removeUnit,
  renderUnit,
  unitNameFor,
  type CommandRunner,
} from '../../src/agent/supervisor/systemd.ts';
import { MeshError } from '../../src/lib/errors.ts';

const GOLDEN = new URL('./golden/meshctl-agent.service', import.meta.url);

const meshError = (code: string, pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof MeshError, `a MeshError, not ${String(error)}`);
  assert.equal(error.code, code);
  assert.match(error.message, pattern);
  return true;
};

test('the unit for the default paths matches the golden file', () => {
  const text = renderUnit({
    exec: ['/opt/meshctl/node_modules/meshctl/bin/meshctl', 'agent', '--config-dir', '/etc/meshctl'],
    configDir: '/etc/meshctl',
    dataDir: '/var/lib/meshctl',
    unitName: unitNameFor('/etc/meshctl'),
  });
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(new URL('.', GOLDEN), { recursive: true });
    writeFileSync(GOLDEN, text);
  }
  assert.equal(text, readFileSync(GOLDEN, 'utf8'), 'rerun with UPDATE_GOLDEN=1 and review the diff if the change is intended');
});

test('unit names: the default config dir keeps the plain name, any other dir gets a stable hashed one', () => {
  const table: Array<[string, string]> = [
    ['/etc/meshctl', DEFAULT_UNIT_NAME],
    ['/etc/meshctl/', DEFAULT_UNIT_NAME],
    ['/etc//meshctl', DEFAULT_UNIT_NAME],
    ['/etc/x/../meshctl', DEFAULT_UNIT_NAME],
    ['/srv/a', 'meshctl-agent-b068a6ce.service'],
    ['/srv/a/', 'meshctl-agent-b068a6ce.service'],
  ];
  for (const [dir, name] of table) assert.equal(unitNameFor(dir), name, dir);
  assert.equal(DEFAULT_UNIT_NAME, 'meshctl-agent.service');
  const names = new Set(['/srv/a', '/srv/b', '/srv/a b', '/etc/meshctl2', '/var/lib/meshctl'].map(unitNameFor));
  assert.equal(names.size, 5, 'different dirs, different units');
  for (const name of names) assert.match(name, /^meshctl-agent-[0-9a-f]{8}\.service$/);
});

test('unit names refuse a relative config dir', () => {
  assert.throws(() => unitNameFor('etc/meshctl'), meshError('MESH_E_USAGE', /absolute path/));
  assert.throws(() => unitNameFor('/'), meshError('MESH_E_USAGE', /cannot be \//));
});

test('ExecStart arguments: specifiers, variables, quotes, backslashes and separators are escaped', () => {
  const table: Array<[string, string]> = [
    ['agent', 'agent'],
    ['--config-dir=/etc/meshctl', '--config-dir=/etc/meshctl'],
    ['127.0.0.1:15000', '127.0.0.1:15000'],
    ['', '""'],
    ['a b', '"a b"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['trailing\\', '"trailing\\\\"'],
    ["it's", '"it\'s"'],
    ['50%', '50%%'],
    ['%n %h', '"%%n %%h"'],
    ['$HOME', '$$HOME'],
    ['${HOME}', '"$${HOME}"'],
    [';', '";"'],
    ['a;b', '"a;b"'],
    ['tab\there', '"tab\\there"'],
    ['line\nnext', '"line\\nnext"'],
    ['\x01\x7f', '"\\x01\\x7f"'],
    ['é', '"é"'],
    ['100% "$x" \\', '"100%% \\"$$x\\" \\\\"'],
  ];
  for (const [arg, escaped] of table) assert.equal(escapeExecArg(arg), escaped, JSON.stringify(arg));
  assert.throws(() => escapeExecArg('a\0b'), meshError('MESH_E_USAGE', /NUL/));
});

test('the ExecStart line needs an absolute executable that systemd can take literally', () => {
  assert.equal(execStartLine(['/opt/mesh ctl/bin/meshctl', 'agent', 'x y']), '"/opt/mesh ctl/bin/meshctl" agent "x y"');
  assert.equal(execStartLine(['/opt/100%/meshctl']), '/opt/100%%/meshctl');
  assert.throws(() => execStartLine([]), meshError('MESH_E_USAGE', /empty/));
  assert.throws(() => execStartLine(['bin/meshctl', 'agent']), meshError('MESH_E_USAGE', /absolute path/));
  assert.throws(() => execStartLine(['/opt/$x/meshctl']), meshError('MESH_E_USAGE', /contains \$/));
});

const base = { exec: ['/opt/meshctl/bin/meshctl', 'agent'], configDir: '/srv/mesh/conf', dataDir: '/srv/mesh/data', unitName: 'meshctl-agent-x.service' };

test('dirs and descriptions are escaped for the settings they stand in', () => {
  const text = renderUnit({ ...base, configDir: '/srv/mesh 100%/conf/', dataDir: '/srv//data', description: 'agent at 100%' });
  assert.match(text, /^ReadWritePaths=-"\/srv\/mesh 100%%\/conf" -\/srv\/data$/m);
  assert.match(text, /^Description=agent at 100%%$/m);
  assert.match(text, /^SyslogIdentifier=meshctl-agent-x$/m);
  assert.match(renderUnit(base), /^Description=meshctl agent \(\/srv\/mesh\/conf\)$/m);
});

test('a unit is not rendered with paths its sandbox hides from the agent', () => {
  const table: Array<[Partial<typeof base>, RegExp]> = [
    [{ configDir: '/tmp/meshctl-test' }, /config dir \/tmp\/meshctl-test is under \/tmp.*PrivateTmp/],
    [{ dataDir: '/var/tmp/d' }, /data dir \/var\/tmp\/d is under \/var\/tmp/],
    [{ exec: ['/home/dev/meshctl/bin/meshctl', 'agent'] }, /executable .* under \/home.*ProtectHome/],
    [{ exec: ['/root/meshctl', 'agent'] }, /under \/root/],
    [{ dataDir: '/run/user/1000/mesh' }, /under \/run\/user/],
  ];
  for (const [change, pattern] of table) assert.throws(() => renderUnit({ ...base, ...change }), meshError('MESH_E_USAGE', pattern));
  assert.doesNotThrow(() => renderUnit({ ...base, configDir: '/tmpfoo/conf', dataDir: '/homes/data' }), 'only whole path components count');
});

test('bad input to the renderer is refused with the reason', () => {
  assert.throws(() => renderUnit({ ...base, configDir: 'conf' }), meshError('MESH_E_USAGE', /absolute path/));
  assert.throws(() => renderUnit({ ...base, dataDir: '/srv/a\nb' }), meshError('MESH_E_USAGE', /control character/));
  assert.throws(() => renderUnit({ ...base, description: 'two\nlines' }), meshError('MESH_E_USAGE', /control character/));
  assert.throws(() => renderUnit({ ...base, description: 'ends with \\' }), meshError('MESH_E_USAGE', /backslash/));
  assert.throws(() => renderUnit({ ...base, unitName: '../evil.service' }), meshError('MESH_E_INTERNAL', /not a service unit name/));
  assert.throws(() => renderUnit(base, 'ExecStart={{EXEC}}\nUser={{USER}}\n'), meshError('MESH_E_INTERNAL', /unknown placeholder \{\{USER\}\}/));
  assert.throws(() => renderUnit(base, 'ExecStart={{ EXEC }}\n'), meshError('MESH_E_INTERNAL', /malformed placeholder/));
});

test('a value that looks like a placeholder is inserted as it is, not expanded again', () => {
  assert.equal(renderUnit({ ...base, description: '{{EXEC}}' }, 'Description={{DESCRIPTION}}\n'), 'Description={{EXEC}}\n');
});

test('systemd counts as PID 1 when /run/systemd/system exists or /proc/1/comm says systemd', () => {
  const probe = (files: Record<string, string>, dirs: string[]) => ({ readFile: (path: string) => files[path], isDirectory: (path: string) => dirs.includes(path) });
  assert.equal(isSystemdPid1(probe({}, ['/run/systemd/system'])), true);
  assert.equal(isSystemdPid1(probe({ '/proc/1/comm': 'systemd\n' }, [])), true);
  assert.equal(isSystemdPid1(probe({ '/proc/1/comm': 'init\n' }, [])), false);
  assert.equal(isSystemdPid1(probe({ '/proc/1/comm': 'tini\n' }, ['/run/systemd'])), false);
  assert.equal(isSystemdPid1(probe({}, [])), false);
});

interface Call {
  file: string;
  args: readonly string[];
}
function fakeRunner(answer: (call: Call) => { exitCode: number; stderr?: string } = () => ({ exitCode: 0 })): { run: CommandRunner; calls: Call[] } {
  const calls: Call[] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push({ file, args: [...args] });
    const { exitCode, stderr = '' } = answer({ file, args });
    return { exitCode, stdout: '', stderr };
  };
  return { run, calls };
}
const systemctl = (...args: string[]): Call => ({ file: 'systemctl', args });

function withUnitDir(body: (unitDir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const unitDir = mkdtempSync(join(tmpdir(), 'meshctl-units-'));
    try {
      await body(unitDir);
    } finally {
      rmSync(unitDir, { recursive: true, force: true });
    }
  };
}

test(
  'install writes the unit 0644, reloads, enables and starts it; remove undoes that and is idempotent',
  withUnitDir(async (unitDir) => {
    const name = 'meshctl-agent-0123abcd.service';
    const path = join(unitDir, name);
    const { run, calls } = fakeRunner();
    const umask = process.umask(0o077);
    try {
      assert.deepEqual(await installUnit('[Service]\nExecStart=/bin/true\n', name, { unitDir, run }), { path, changed: true });
    } finally {
      process.umask(umask);
    }
    assert.equal(readFileSync(path, 'utf8'), '[Service]\nExecStart=/bin/true\n');
    assert.equal(statSync(path).mode & 0o777, 0o644, 'readable by all whatever the umask');
    assert.deepEqual(readdirSync(unitDir), [name], 'no temp file left behind');
    assert.deepEqual(calls, [systemctl('daemon-reload'), systemctl('enable', '--now', name)]);

    calls.length = 0;
    assert.deepEqual(await installUnit('[Service]\nExecStart=/bin/true\n', name, { unitDir, run }), { path, changed: false });
    assert.deepEqual(await installUnit('[Service]\nExecStart=/bin/false\n', name, { unitDir, run }), { path, changed: true });
    assert.equal(readFileSync(path, 'utf8'), '[Service]\nExecStart=/bin/false\n', 'replaced');

    calls.length = 0;
    assert.deepEqual(await removeUnit(name, { unitDir, run }), { removed: true });
    assert.deepEqual(readdirSync(unitDir), []);
    assert.deepEqual(calls, [systemctl('disable', '--now', name), systemctl('daemon-reload')]);

    calls.length = 0;
    assert.deepEqual(await removeUnit(name, { unitDir, run }), { removed: false });
    assert.deepEqual(calls, [], 'nothing to undo, nothing run');
  }),
);

test(
  'a failing systemctl is reported with what it said, and the file stays for the operator to inspect',
  withUnitDir(async (unitDir) => {
    const name = 'meshctl-agent-0123abcd.service';
    const { run, calls } = fakeRunner(({ args }) => (args[0] === 'enable' ? { exitCode: 1, stderr: 'Job failed. See "journalctl -xe".\n' } : { exitCode: 0 }));
    await assert.rejects(installUnit('[Service]\n', name, { unitDir, run }), (error: unknown) => {
      assert.ok(error instanceof MeshError);
      assert.equal(error.code, 'MESH_E_INTERNAL');
      assert.equal(error.message, `systemctl enable --now ${name} failed (exit 1): Job failed. See "journalctl -xe".`);
      assert.match(error.hint ?? '', /journalctl -u meshctl-agent-0123abcd\.service/);
      return true;
    });
    assert.equal(calls.length, 2);
    assert.deepEqual(readdirSync(unitDir), [name]);

    const broken = fakeRunner(({ args }) => (args[0] === 'disable' ? { exitCode: 1, stderr: 'Access denied' } : { exitCode: 0 }));
    await assert.rejects(removeUnit(name, { unitDir, run: broken.run }), meshError('MESH_E_INTERNAL', /disable --now .* failed \(exit 1\): Access denied/));
    assert.deepEqual(readdirSync(unitDir), [name], 'kept, so leave can try again');
  }),
);

test(
  'systemctl that cannot be run, or a missing unit dir, is a MeshError with a hint',
  withUnitDir(async (unitDir) => {
    const name = 'meshctl-agent-0123abcd.service';
    const missing: CommandRunner = async () => {
      throw new Error('spawn systemctl ENOENT');
    };
    await assert.rejects(installUnit('[Service]\n', name, { unitDir, run: missing }), (error: unknown) => {
      assert.ok(error instanceof MeshError);
      assert.match(error.message, /cannot run systemctl daemon-reload: spawn systemctl ENOENT/);
      assert.match(error.hint ?? '', /systemd installed/);
      return true;
    });
    const { run, calls } = fakeRunner();
    await assert.rejects(installUnit('[Service]\n', name, { unitDir: join(unitDir, 'nope'), run }), meshError('MESH_E_INTERNAL', /cannot write .*nope/));
    assert.deepEqual(calls, []);
    await assert.rejects(installUnit('[Service]\n', '../x.service', { unitDir, run }), meshError('MESH_E_INTERNAL', /not a service unit name/));
  }),
);
