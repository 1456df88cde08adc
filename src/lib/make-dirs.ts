// mkdir -p that always ends, and a check that a directory takes new files.
// Node's own recursive mkdir (mkdirSync and fs.mkdir with recursive: true,
// Node 24) loops forever, busy, when the kernel answers ENOENT for a
// directory whose parent exists, as /proc does for "mkdir /proc/x": the async
// form never calls back (the access log waited on it for ever) and the sync
// form hangs the whole process. Here each missing level is made on its own,
// and the first error is the answer.

import { closeSync, mkdirSync, openSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Makes dir and its missing parents; returns the directories it made, top-most first. Throws the first OS error. */
export function makeDirs(dir: string, mode?: number): string[] {
  const missing: string[] = [];
  for (let current = resolve(dir); ; current = dirname(current)) {
    const kind = statOrMissing(current);
    if (kind === 'dir') break;
    if (kind === 'other') throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${current}'`), { code: 'ENOTDIR', path: current });
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  const made: string[] = [];
  for (const level of missing) {
    try {
      mkdirSync(level, mode === undefined ? undefined : { mode });
    } catch (error) {
      // Another process may make the same level at the same moment.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || statOrMissing(level) !== 'dir') throw error;
      continue;
    }
    made.push(level);
  }
  return made;
}

/** Removes what makeDirs made, deepest first, leaving any that something else has since put files in. */
export function removeMadeDirs(made: readonly string[]): void {
  for (const dir of [...made].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty, or already gone: not ours to remove any more.
    }
  }
}

/** Creates and removes a file in dir: the one test of "can write here" that root, read-only mounts and /proc all answer truthfully. */
export function proveWritable(dir: string, name = 'probe'): void {
  const probe = join(dir, `.${basename(name)}.${process.pid}.probe`);
  closeSync(openSync(probe, 'wx', 0o600));
  unlinkSync(probe);
}

function statOrMissing(path: string): 'dir' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}
