// Where the access log's lines go: a pino-roll stream (sonic-boom),
// in this thread. A line costs the request one JSON serialization and an
// append to an in-memory buffer; sonic-boom writes the buffer with async
// fs.write once it holds 12 KB (sonic-boom writes at most 16 KB at once; a
// bigger batch means fewer syscalls per line), and at least every second, so a quiet agent's
// lines still reach the file promptly. A worker-thread transport would move
// only the write, which is already off the request path, and add a copy.
//
// Files: PATH is the name operators use (a symlink kept pointing at the file
// being written); the files themselves are PATH's stem, the day, and a
// number: access.2026-11-27.1.log, access.2026-11-27.2.log… A new file starts
// when the current one reaches maxBytes and at midnight; on each roll only the
// newest `keep` older files are kept.

import { renameSync, symlinkSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pinoRoll from 'pino-roll';
import { MeshError } from '../../lib/errors.ts';
import { makeDirs, proveWritable, removeMadeDirs } from '../../lib/make-dirs.ts';
import { ACCESS_LOG_DEFAULTS, agentStateDir, type AgentConfig } from '../config/agent-config.ts';
import type { Telemetry } from '../../proxy/telemetry/records.ts';
import { accessLogSink } from './access-log.ts';

export const ACCESS_LOG_FILE = 'access.log';
/** Lines buffered while the disk falls behind; past this, lines are dropped (and counted) rather than memory grown. */
const MAX_BUFFER_BYTES = 16 * 1024 * 1024;
const BATCH_BYTES = 12 * 1024;
const FLUSH_EVERY_MS = 1000;
/** How long the first open may take: a file system that never answers (a FIFO, a hung mount) fails the start rather than hanging it. */
const OPEN_TIMEOUT_MS = 5000;

export interface AccessLogSettings {
  path: string;
  maxBytes: number;
  /** Older files kept besides the one being written. */
  keep: number;
}

/** What the agent's config asks for: undefined when the access log is off. */
export function accessLogSettings(config: Pick<AgentConfig, 'dataDir' | 'accessLog'>): AccessLogSettings | undefined {
  const a = config.accessLog;
  if (a === 'off') return undefined;
  return {
    path: a?.path ?? join(agentStateDir(config.dataDir), ACCESS_LOG_FILE),
    maxBytes: a?.maxBytes ?? ACCESS_LOG_DEFAULTS.maxBytes,
    keep: a?.keep ?? ACCESS_LOG_DEFAULTS.keep,
  };
}

export interface AccessLogFile {
  write(line: { time: string }): void;
  /** The file being written now. */
  readonly current: string;
  /** Lines dropped because the disk fell behind by more than the buffer holds. */
  readonly dropped: number;
  /** Writes what is buffered and closes the file. */
  close(): Promise<void>;
}

/**
 * Makes the access log's directory (never with Node's recursive mkdir, which
 * loops forever under /proc) and proves it takes new files. Returns the
 * directories it made; fails with the path, the OS's reason and the fix.
 */
function prepareAccessLogDir(path: string): string[] {
  const dir = dirname(path);
  try {
    const made = makeDirs(dir);
    try {
      proveWritable(dir, basename(path));
    } catch (error) {
      removeMadeDirs(made);
      throw error;
    }
    return made;
  } catch (error) {
    throw accessLogError(path, error);
  }
}

/** join's check before it installs anything: the path would work, and nothing of the check is left. */
export function checkAccessLogPath(path: string): void {
  removeMadeDirs(prepareAccessLogDir(path));
}

function accessLogError(path: string, error: unknown): MeshError {
  return new MeshError('MESH_E_DATA_DIR', `cannot write the access log ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
    hint: 'give the agent (in transparent mode: the proxy user) a writable directory with join --access-log PATH, or turn it off with --access-log off',
    cause: error,
  });
}

/** Opens (creating) the access log; fails with the path and the fix when it cannot be written, or when the file system does not answer in time. */
export async function openAccessLog(settings: AccessLogSettings, log: (line: string) => void, options: { openTimeoutMs?: number } = {}): Promise<AccessLogFile> {
  prepareAccessLogDir(settings.path);
  const stem = settings.path.replace(/\.log$/, '');
  const timeoutMs = options.openTimeoutMs ?? OPEN_TIMEOUT_MS;
  let opened: Awaited<ReturnType<typeof pinoRoll>> | undefined;
  try {
    opened = await pinoRoll({
      file: `${stem}.log`,
      size: `${settings.maxBytes}b`,
      frequency: 'daily',
      dateFormat: 'yyyy-MM-dd',
      limit: { count: settings.keep, removeOtherLogFiles: true },
      // No mkdir: prepareAccessLogDir made the directory (sonic-boom's is Node's recursive mkdir, which spins under /proc).
      mode: 0o640,
      minLength: BATCH_BYTES,
      maxLength: MAX_BUFFER_BYTES,
      periodicFlush: FLUSH_EVERY_MS,
      // Buffers, not strings: in its string mode sonic-boom measures the UTF-8 length of the whole
      // pending batch (up to 16 KB) on every write, ~20,000 instructions a line under callgrind,
      // where a Buffer's length is known (bench/telemetry-sinks.ts, case access-log).
      contentMode: 'buffer',
    });
    const opening = opened;
    await new Promise<void>((resolve, reject) => {
      if (opening.fd >= 0) return resolve();
      const timer = setTimeout(() => reject(new Error(`the file system did not open it within ${timeoutMs} ms`)), timeoutMs);
      opening.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      opening.once('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    // The open may still finish later: the stream is dropped, not left to write.
    opened?.on('error', () => {});
    opened?.destroy();
    throw accessLogError(settings.path, error);
  }
  const stream = opened;
  let dropped = 0;
  stream.on('drop', () => {
    if (dropped++ === 0) log(`access log: the disk is behind by ${MAX_BUFFER_BYTES} bytes; lines are dropped until it catches up`);
  });
  stream.on('error', (error: Error) => log(`access log: ${error.message}`));
  const link = () => pointLink(settings.path, stream.file ?? '', log);
  link();
  // After each roll sonic-boom reopens on the new file and says it is ready.
  stream.on('ready', link);
  // The line is exactly what accessLogLine made, time first. Written straight to pino-roll's
  // sonic-boom stream (buffered, asynchronous, dropping past its bound): a pino logger in front
  // added nothing we keep (level, pid, hostname, its clock) and its serializer cost 2-3x
  // JSON.stringify for the same bytes (measured in the commit that made this change).
  return {
    write: (line) => {
      // sonic-boom's types know only its string mode's write(string); in buffer mode it takes a Buffer.
      stream.write(Buffer.from(`${JSON.stringify(line)}\n`) as unknown as string);
    },
    get current() {
      return stream.file ?? '';
    },
    get dropped() {
      return dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (dropped > 0) log(`access log: ${dropped} line(s) dropped while the disk was behind`);
        stream.once('close', () => resolve());
        stream.end();
      }),
  };
}

/** PATH → the file being written, replaced atomically so `tail -F PATH` follows the rolls. */
function pointLink(path: string, target: string, log: (line: string) => void): void {
  if (!target || target === path) return;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.link`);
  try {
    rmSync(temp, { force: true });
    symlinkSync(basename(target), temp);
    renameSync(temp, path);
  } catch (error) {
    log(`access log: cannot point ${path} at ${target}: ${(error as Error).message}`);
  }
}

/**
 * The agent's access log, as its config asks: opened (after transparent
 * mode's drop to the proxy user, so the files are that user's) and fed every
 * record the proxy's telemetry fans out. Resolves to what stop() closes.
 */
export async function attachAccessLog(config: Pick<AgentConfig, 'dataDir' | 'accessLog'>, telemetry: Telemetry, log: (line: string) => void): Promise<AccessLogFile | undefined> {
  const settings = accessLogSettings(config);
  if (!settings) return undefined;
  const file = await openAccessLog(settings, log);
  const detach = telemetry.add(accessLogSink((line) => file.write(line)));
  return { write: (line) => file.write(line), get current() { return file.current; }, get dropped() { return file.dropped; }, close: () => { detach(); return file.close(); } };
}
