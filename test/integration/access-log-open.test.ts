// Opening the access log fails fast, with the path and the fix, whatever the
// path: a directory the kernel will not make (under /proc, where Node's own
// recursive mkdir loops for ever), a parent that is a file, or a file system
// that never answers the open (a FIFO in the log's place). The agent's start
// waits on this open, so a hang here was an agent that never started and
// never exited.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkAccessLogPath, openAccessLog } from '../../src/agent/telemetry/access-log-file.ts';
import { isMeshError } from '../../src/lib/errors.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-alog-open-'));
  dirs.push(dir);
  return dir;
};

/** The open, or a failure of the test if it has not settled within ms (rather than a test that hangs). */
function settled<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; tookMs: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve({ value, tookMs: Date.now() - started }); },
      (error: unknown) => { clearTimeout(timer); resolve({ error, tookMs: Date.now() - started }); },
    );
  });
}

function assertDataDirError(error: unknown, path: string, reason: RegExp): void {
  assert.ok(isMeshError(error), `a MeshError, got ${String(error)}`);
  assert.equal(error.code, 'MESH_E_DATA_DIR');
  assert.match(error.message, new RegExp(`^cannot write the access log ${path.replace(/[.]/g, '\\.')}: `));
  assert.match(error.message, reason);
  assert.match(error.hint ?? '', /--access-log PATH.*--access-log off/);
}

test('a directory the kernel will not make (/proc/<missing>/) is refused at once, not waited on', async () => {
  const path = `/proc/meshctl-no-such-${process.pid}/access.log`;
  const { error, tookMs } = await settled(openAccessLog({ path, maxBytes: 1024 * 1024, keep: 1 }, () => {}), 3000);
  assertDataDirError(error, path, /ENOENT/);
  assert.ok(tookMs < 1000, `refused in ${tookMs} ms`);
  assert.throws(() => checkAccessLogPath(path), (e: unknown) => (assertDataDirError(e, path, /ENOENT/), true));
});

test('a parent that is a file is refused with ENOTDIR', async () => {
  const file = join(tempDir(), 'plain-file');
  writeFileSync(file, '');
  const path = join(file, 'logs', 'access.log');
  const { error } = await settled(openAccessLog({ path, maxBytes: 1024 * 1024, keep: 1 }, () => {}), 3000);
  assertDataDirError(error, path, /ENOTDIR/);
});

test("join's check makes nothing it leaves behind, and a good path passes", () => {
  const root = tempDir();
  checkAccessLogPath(join(root, 'a', 'b', 'access.log'));
  assert.deepEqual(readdirSync(root), [], 'the directories made for the check are gone');
  checkAccessLogPath(join(root, 'access.log'));
  assert.deepEqual(readdirSync(root), [], 'no probe file left');
});

test('a file that never opens (a FIFO where the log goes) fails after the open timeout, not never', async () => {
  const dir = tempDir();
  const day = new Date();
  const date = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
  // pino-roll appends to access.<date>.1.log; opened for writing, a FIFO blocks until a reader comes.
  const fifo = join(dir, `access.${date}.1.log`);
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  const path = join(dir, 'access.log');
  try {
    const { error, tookMs } = await settled(openAccessLog({ path, maxBytes: 1024 * 1024, keep: 1 }, () => {}, { openTimeoutMs: 300 }), 3000);
    assertDataDirError(error, path, /did not open it within 300 ms/);
    assert.ok(tookMs >= 300 && tookMs < 2000, `gave up after ${tookMs} ms`);
  } finally {
    // A reader lets the blocked open (in libuv's thread pool) finish, so the test process can exit.
    if (existsSync(fifo)) closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
  }
});
