// The rendered unit against systemd's own parser: `systemd-analyze verify`
// must accept it without a word about it, and its debug dump must show that
// ExecStart, ReadWritePaths and Description read back as the values given.
// systemd need not be PID 1 for this. systemd-analyze comes with Debian's
// systemd package; when it is missing the test fails and says so.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { renderUnit, unitNameFor, type UnitOptions } from '../../src/agent/supervisor/systemd.ts';
import { MESHCTL } from '../helpers/server.ts';

// Not os.tmpdir(), nor the checkout (which may itself lie under /tmp or
// /home): the unit's PrivateTmp=yes and ProtectHome=yes hide those, so
// renderUnit refuses paths there. A dir under /var/lib holds the config and
// data dirs and a link to the launcher; it is removed in teardown.
let base: string;
let launcher: string;

before(() => {
  base = mkdtempSync('/var/lib/meshctl-verify-');
  launcher = join(base, 'meshctl');
  symlinkSync(MESHCTL, launcher);
});
after(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

function analyze(unitPath: string, logLevel: string) {
  const result = spawnSync('systemd-analyze', ['verify', '--recursive-errors=no', unitPath], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SYSTEMD_LOG_LEVEL: logLevel, SYSTEMD_LOG_COLOR: '0' },
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail('systemd-analyze is not installed: install the Debian package systemd (apt-get install systemd); it is needed to check the agent unit');
  }
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Renders the unit into a directory of its own (verify also loads the unit files beside it) and returns its path. */
function writeUnit(label: string, options: Omit<UnitOptions, 'unitName'>): { path: string; name: string } {
  const unitDir = mkdtempSync(join(base, `${label}-units-`));
  const name = unitNameFor(options.configDir);
  const path = join(unitDir, name);
  writeFileSync(path, renderUnit({ ...options, unitName: name }));
  return { path, name };
}

function makeDirs(label: string, configName: string): { configDir: string; dataDir: string } {
  const configDir = join(base, label, configName);
  const dataDir = join(base, label, 'data');
  mkdirSync(configDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  return { configDir, dataDir };
}

test('systemd-analyze verify accepts the agent unit and says nothing about it', () => {
  const dirs = makeDirs('plain', 'conf');
  const { path, name } = writeUnit('plain', { exec: [launcher, 'agent', '--config-dir', dirs.configDir], ...dirs });
  const result = analyze(path, 'info');
  // When systemd is not PID 1, verify still loads the machine's own units
  // (the dependencies of ours) and may complain about them, or about missing
  // generator dirs: that is noise. Whatever concerns our unit names its file
  // ("<path>:<line>: ...") or its unit ("<name>: ...").
  const aboutUs = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.includes(name));
  assert.deepEqual(aboutUs, [], `systemd-analyze warned about the unit:\n${result.stderr}`);
  assert.equal(result.code, 0, `systemd-analyze verify exited ${result.code}:\n${result.stdout}${result.stderr}`);
});

/** Splits a "Command Line:" of systemd's dump, which quotes words with "..." and C escapes. */
function splitDumpedCommandLine(line: string): string[] {
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', $: '$', '`': '`', "'": "'" };
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i += 1;
      continue;
    }
    let word = '';
    if (line[i] !== '"') {
      while (i < line.length && line[i] !== ' ') word += line[i++];
    } else {
      for (i += 1; line[i] !== '"'; ) {
        assert.ok(i < line.length, `unterminated quote in ${line}`);
        if (line[i] !== '\\') {
          word += line[i++];
          continue;
        }
        const rest = line.slice(i + 1);
        const octal = /^[0-7]{3}/.exec(rest);
        const hex = /^x([0-9a-fA-F]{2})/.exec(rest);
        if (octal) {
          word += String.fromCharCode(parseInt(octal[0], 8));
          i += 4;
        } else if (hex) {
          word += String.fromCharCode(parseInt(hex[1] as string, 16));
          i += 4;
        } else {
          const c = escapes[rest[0] ?? ''];
          assert.ok(c !== undefined, `unknown escape \\${rest[0]} in ${line}`);
          word += c;
          i += 2;
        }
      }
      i += 1;
    }
    words.push(word);
  }
  return words;
}

/**
 * What systemd does to an argument at exec time, as the dump shows argv before
 * it: $$ becomes $, ${NAME} anywhere and $NAME as a whole word are replaced
 * (here by a marker, so that an unescaped $ shows up as a difference).
 */
const substituteVariables = (word: string): string =>
  word.replace(/\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*\}|^\$[A-Za-z_][A-Za-z0-9_]*$/g, (match) => (match === '$$' ? '$' : `<substituted ${match}>`));

test('systemd reads ExecStart, ReadWritePaths and Description back as the values given', () => {
  const dirs = makeDirs('odd', 'conf 100% $x');
  const exec = [launcher, 'agent', '--config-dir', dirs.configDir, '', 'a b', 'say "hi"', 'back\\slash\\', "it's", '100%', '%n', '$HOME', '${HOME}', '$$', ';', 'tab\tnew\nline', 'é', '\x01'];
  const description = 'agent with 100% odd $dirs';
  const { path, name } = writeUnit('odd', { exec, ...dirs, description });
  assert.equal(analyze(path, 'info').code, 0);

  // At debug level verify dumps each unit as it understood it.
  const dump = analyze(path, 'debug');
  const lines = `${dump.stdout}\n${dump.stderr}`.split('\n');
  const start = lines.findIndex((line) => line.trim() === `-> Unit ${name}:`);
  assert.ok(start >= 0, `no dump of ${name} in systemd-analyze's debug output`);
  const end = lines.findIndex((line, index) => index > start && !line.startsWith('\t'));
  const unit = lines.slice(start, end === -1 ? undefined : end);
  const setting = (key: string) => unit.find((line) => line.startsWith(`\t\t${key}: `))?.slice(`\t\t${key}: `.length);

  const execAt = unit.findIndex((line) => line.trim() === '-> ExecStart:');
  const commandLine = unit[execAt + 1]?.trim() ?? '';
  assert.ok(execAt >= 0 && commandLine.startsWith('Command Line: '), `no ExecStart in the dump:\n${unit.join('\n')}`);
  const argv = splitDumpedCommandLine(commandLine.slice('Command Line: '.length)).map(substituteVariables);
  assert.deepEqual(argv, exec);
  assert.equal(setting('ReadWritePaths'), `-${dirs.configDir} -${dirs.dataDir}`);
  assert.equal(setting('Description'), description);
});
