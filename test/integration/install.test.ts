// install.sh end to end, as an operator runs it, but into a temp dir:
// --prefix and --bin-dir point there and --no-system-packages keeps apt away.
// It packs this checkout, npm-installs the tarball with its production
// dependencies (the Node.js 24 runtime among them) from the npm cache or the
// registry, links meshctl, runs again in place, and uninstalls exactly what it
// installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ROOT } from '../helpers/server.ts';

const INSTALL_SH = join(ROOT, 'install.sh');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let base: string;
let prefix: string;
let binDir: string;
let link: string;
let unrelated: string;
let env: Record<string, string>;

// The host as install.sh meets it: the machine's npm and node, not this
// checkout's node_modules/.bin (which `npm test` puts first on PATH), and
// none of the npm_* variables an npm script runs with.
function hostEnv(tmp: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^npm_/i.test(key)) result[key] = value;
  }
  result.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => dir !== '' && !dir.includes('node_modules'))
    .join(':');
  result.TMPDIR = tmp;
  return result;
}

function run(command: string, args: string[], extraEnv: Record<string, string> = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 240_000 });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
const install = (...args: string[]) => run(INSTALL_SH, ['--prefix', prefix, '--bin-dir', binDir, '--no-system-packages', ...args]);
const show = (r: { stdout: string; stderr: string }) => `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

before(() => {
  base = mkdtempSync(join(tmpdir(), 'meshctl-install-test-'));
  prefix = join(base, 'opt', 'meshctl');
  binDir = join(base, 'bin');
  link = join(binDir, 'meshctl');
  unrelated = join(binDir, 'unrelated-tool');
  mkdirSync(binDir);
  mkdirSync(join(base, 'tmp'));
  writeFileSync(unrelated, '#!/bin/sh\necho not meshctl\n', { mode: 0o755 });
  env = hostEnv(join(base, 'tmp'));
});
after(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe('install.sh', () => {
  test('installs meshctl into --prefix, links it into --bin-dir and says what it did', () => {
    const result = install();
    assert.equal(result.code, 0, show(result));
    assert.match(result.stdout, new RegExp(`installed meshctl ${VERSION.replaceAll('.', '\\.')} with Node\\.js v24\\.\\S+ in ${prefix}`));
    assert.match(result.stdout, new RegExp(`linked ${link} -> ${prefix}/node_modules/meshctl/bin/meshctl`));
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), join(prefix, 'node_modules', 'meshctl', 'bin', 'meshctl'));

    const version = run(link, ['--version']);
    assert.equal(version.code, 0, show(version));
    assert.equal(version.stdout.trim(), VERSION);

    const manifest = readFileSync(join(prefix, 'install-manifest'), 'utf8');
    assert.match(manifest, new RegExp(`^link ${link}$`, 'm'));
    assert.match(manifest, new RegExp(`^version ${VERSION.replaceAll('.', '\\.')}$`, 'm'));
  });

  test('the installed meshctl runs on the Node.js 24 runtime inside the prefix, not on the node on PATH', () => {
    const runtime = join(prefix, 'node_modules', 'node', 'bin', 'node');
    const direct = run(runtime, ['-p', 'process.version']);
    assert.equal(direct.code, 0, show(direct));
    assert.match(direct.stdout.trim(), /^v24\./);

    // A module preloaded into the process that meshctl --version runs in
    // reports which node that process is.
    const probe = join(base, 'probe.mjs');
    writeFileSync(probe, 'process.stderr.write(`runtime ${process.version} ${process.execPath}\\n`);\n');
    const result = run(link, ['--version'], { NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` });
    assert.equal(result.code, 0, show(result));
    const [, version, execPath] = /^runtime (\S+) (\S+)$/m.exec(result.stderr) ?? [];
    assert.match(version ?? '', /^v24\./, show(result));
    assert.equal(execPath, runtime);
  });

  test('running it again replaces the install in place: one prefix, one link, nothing left over', () => {
    const result = install();
    assert.equal(result.code, 0, show(result));
    assert.match(result.stdout, /replacing meshctl/);
    assert.match(result.stdout, /already links to/);

    const version = run(link, ['--version']);
    assert.equal(version.code, 0, show(version));
    assert.equal(version.stdout.trim(), VERSION);
    assert.deepEqual(readdirSync(join(base, 'opt')), ['meshctl'], 'no staging or old trees beside the prefix');
    assert.deepEqual(readdirSync(binDir).sort(), ['meshctl', 'unrelated-tool']);
    assert.deepEqual(readdirSync(join(base, 'tmp')), [], 'its temp files are removed');
  });

  test('refuses to replace a directory it did not install', () => {
    const foreign = join(base, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'data'), 'keep me');
    const result = run(INSTALL_SH, ['--prefix', foreign, '--bin-dir', binDir, '--no-system-packages']);
    assert.equal(result.code, 1, show(result));
    assert.match(result.stderr, /not empty and has no install-manifest.*give another --prefix/);
    const uninstall = run(INSTALL_SH, ['--uninstall', '--prefix', foreign]);
    assert.equal(uninstall.code, 1, show(uninstall));
    assert.equal(readFileSync(join(foreign, 'data'), 'utf8'), 'keep me');
  });

  test('--uninstall removes the prefix and the link, and nothing else', () => {
    const result = run(INSTALL_SH, ['--uninstall', '--prefix', prefix]);
    assert.equal(result.code, 0, show(result));
    assert.match(result.stdout, new RegExp(`removed the link ${link}`));
    assert.match(result.stdout, new RegExp(`removed ${prefix}`));
    assert.equal(existsSync(prefix), false);
    assert.throws(() => lstatSync(link), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(join(base, 'opt')), []);
    assert.deepEqual(readdirSync(binDir), ['unrelated-tool']);
    assert.equal(readFileSync(unrelated, 'utf8'), '#!/bin/sh\necho not meshctl\n');

    const again = run(INSTALL_SH, ['--uninstall', '--prefix', prefix]);
    assert.equal(again.code, 0, show(again));
    assert.match(again.stdout, /nothing to uninstall/);
  });

  test('a bad flag exits 2 and names the problem and where to look', () => {
    for (const args of [['--bogus'], ['--prefix']]) {
      const result = run(INSTALL_SH, args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /^install\.sh: error: (unknown option: --bogus|--prefix needs a directory) \(see install\.sh --help\)$/m);
    }
    const help = run(INSTALL_SH, ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--prefix DIR/);
  });
});
