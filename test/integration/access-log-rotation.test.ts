// The access log's files, with real pino-roll on a temp dir and a
// tiny size limit: lines written over many turns of the event loop (as
// requests end) spread over several files, none lost or written twice; only
// the newest `keep` older files survive; the link follows the current file;
// a line on disk is the line as made, byte for byte.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openAccessLog } from '../../src/agent/telemetry/access-log-file.ts';
import { accessLogLine } from '../../src/agent/telemetry/access-log.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes `count` numbered lines, yielding to the event loop every few lines; returns the ids found in each file, oldest first. */
async function writeAndRead(keep: number, count: number): Promise<{ dir: string; files: string[]; ids: number[]; current: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-alog-roll-'));
  dirs.push(dir);
  const log = await openAccessLog({ path: join(dir, 'access.log'), maxBytes: 8 * 1024, keep }, () => {});
  for (let i = 0; i < count; i++) {
    log.write({ time: new Date().toISOString(), i, path: `/orders/${i}`, pad: 'x'.repeat(80) } as { time: string });
    // Requests end over time, not in one burst: pino-roll starts the next file when the stream drains.
    if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const current = log.current;
  await log.close();
  const number = (f: string) => Number(/\.(\d+)\.log$/.exec(f)?.[1]);
  const files = readdirSync(dir).filter((f) => f !== 'access.log').sort((a, b) => number(a) - number(b));
  const ids = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { i: number }).i));
  return { dir, files, ids, current };
}

test('past the size limit a new file starts; every line is in exactly one file, in order', async () => {
  const { dir, files, ids, current } = await writeAndRead(1000, 2000);
  assert.ok(files.length >= 10, `2000 lines of ~150 bytes at 8 KB per file make many files, got ${files.join(', ')}`);
  for (const f of files) assert.match(f, /^access\.\d{4}-\d{2}-\d{2}\.\d+\.log$/);
  assert.equal(ids.length, 2000, 'no line lost or duplicated');
  assert.deepEqual(ids, Array.from({ length: 2000 }, (_, i) => i), 'in the order written');
  assert.equal(readlinkSync(join(dir, 'access.log')), current.split('/').pop(), 'access.log points at the newest file');
  assert.equal(current.split('/').pop(), files.at(-1));
});

test('only the newest `keep` older files are kept, and what they hold is the latest lines, whole', async () => {
  const { files, ids } = await writeAndRead(2, 2000);
  assert.ok(files.length <= 3, `the current file and 2 older ones: ${files.join(', ')}`);
  assert.ok(ids.length > 0);
  const last = ids.at(-1) ?? -1;
  assert.equal(last, 1999, 'the newest line is there');
  assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => last - ids.length + 1 + i), 'a run of the newest lines, none missing or repeated');
});

test('a line on disk is the line accessLogLine made, as JSON, time first, nothing added', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-alog-bytes-'));
  dirs.push(dir);
  const log = await openAccessLog({ path: join(dir, 'access.log'), maxBytes: 1024 * 1024, keep: 1 }, () => {});
  const line = accessLogLine({
    direction: 'inbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/caf\u00e9?q="x"\\', status: 200, mtls: true,
    startedAt: Date.parse('2026-11-27T05:30:00.125Z'), durationMs: 1.5, requestBytes: 0, responseBytes: 12, requestId: 'r-1',
  });
  log.write(line);
  await log.close();
  const files = readdirSync(dir).filter((f) => f !== 'access.log');
  assert.equal(readFileSync(join(dir, files[0]!), 'utf8'), `${JSON.stringify(line)}\n`);
  assert.match(readFileSync(join(dir, files[0]!), 'utf8'), /^\{"time":"2026-11-27T05:30:00.125Z","requestId":"r-1",/);
});

test('a directory the agent cannot make fails with the path and the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-alog-bad-'));
  dirs.push(dir);
  // A file where a directory should be: refused even to root, which the tests run as.
  writeFileSync(join(dir, 'file'), '');
  const path = join(dir, 'file', 'logs', 'access.log');
  await assert.rejects(openAccessLog({ path, maxBytes: 1024 * 1024, keep: 1 }, () => {}), (error: Error & { code?: string; hint?: string }) => {
    assert.equal(error.code, 'MESH_E_DATA_DIR');
    assert.equal(error.message, `cannot write the access log ${path}: ENOTDIR`);
    assert.match(error.hint ?? '', /--access-log/);
    return true;
  });
});
