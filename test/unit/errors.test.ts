import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../../src/lib/errors.ts';

test('the README error table lists every code with its status, exit code and meaning', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...readme.matchAll(/^\| (MESH_E_[A-Z_]+) \| (\d+) \| (\d) \| (.+) \|$/gm)].map((m) => [m[1], { status: Number(m[2]), exit: Number(m[3]), summary: m[4] }]),
  );
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, info] of Object.entries(ERROR_CODES)) assert.deepEqual(rows.get(code), info, code);
});
