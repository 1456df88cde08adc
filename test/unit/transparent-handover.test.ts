// Handing the agent's state directory to the proxy user: a directory root
// still owns is given over whole; one the proxy user already owns is not
// walked again (its contents are the proxy's, and could be links planted to
// make root chown something else); a link or a foreign owner is refused.
// Needs root, as the agent does when it drops privileges.

import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { handOver } from '../../src/agent/transparent.ts';

const NOBODY = 65534;
const root = mkdtempSync(join(tmpdir(), 'meshctl-handover-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('root needed', () => assert.equal(process.getuid?.(), 0, 'run the tests as root (CI does)'));

test("a root-owned state dir is handed over whole, links changed themselves and not followed", () => {
  const dir = join(root, 'a');
  const outside = join(root, 'outside');
  writeFileSync(outside, 'root only');
  mkdirSync(join(dir, 'certs'), { recursive: true });
  writeFileSync(join(dir, 'certs', 'web.key'), 'key');
  symlinkSync(outside, join(dir, 'link'));
  handOver(dir, NOBODY, NOBODY);
  for (const path of [dir, join(dir, 'certs'), join(dir, 'certs', 'web.key'), join(dir, 'link')]) assert.equal(lstatSync(path).uid, NOBODY, path);
  assert.equal(lstatSync(outside).uid, 0, 'the link target is untouched');
});

test('a state dir the proxy user owns is not walked again: what it planted there stays as it is', () => {
  const dir = join(root, 'b');
  mkdirSync(dir);
  chownSync(dir, NOBODY, NOBODY);
  writeFileSync(join(dir, 'planted'), 'x');
  handOver(dir, NOBODY, NOBODY);
  assert.equal(lstatSync(join(dir, 'planted')).uid, 0);
});

test('a link in place of the state dir, or another owner, is refused', () => {
  symlinkSync(root, join(root, 'c'));
  assert.throws(() => handOver(join(root, 'c'), NOBODY, NOBODY), /is not a directory/);
  const other = join(root, 'd');
  mkdirSync(other);
  chownSync(other, 12345, 12345);
  assert.throws(() => handOver(other, NOBODY, NOBODY), /belongs to uid 12345/);
});
