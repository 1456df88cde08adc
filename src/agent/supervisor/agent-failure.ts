// Why a supervised agent stopped, read from its log (DATA_DIR/logs/agent.log,
// where the built-in supervisor writes the agent's output and its own notes).
// join reads the part written since it started the agent: once the supervisor
// notes that the agent exited, the agent's own last "error: …" line (what
// `meshctl agent` printed, with its hint) says why, and join reports it at
// once, before its rollback removes the log.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { stripAnsi } from '../../lib/ansi.ts';

export interface AgentFailure {
  /** The agent's own error line without the "error: " prefix; undefined when it printed none. */
  error: string | undefined;
  /** How it ended, as the supervisor noted it: "code 2", "SIGKILL". */
  status: string;
  /** The process's exit code, when it exited with one. */
  exitCode: number | undefined;
}

const EXITED = /\[supervisor\] agent exited \(([^)]*)\)/;
const ERROR_LINE = /^error:\s*(.+)$/;

/** The first exit the supervisor noted in text, and the agent's last error line; undefined while the agent runs. */
export function agentFailure(text: string): AgentFailure | undefined {
  let error: string | undefined;
  let status: string | undefined;
  for (const raw of text.split('\n')) {
    const line = stripAnsi(raw).trimEnd();
    const exited = EXITED.exec(line);
    if (exited && status === undefined) status = exited[1] ?? '';
    // The agent's stderr may reach the log after the supervisor's note (exit comes before the pipe drains).
    const failed = ERROR_LINE.exec(line);
    if (failed) error = failed[1];
  }
  if (status === undefined) return undefined;
  const code = /^code (\d+)$/.exec(status);
  return { error, status, exitCode: code ? Number(code[1]) : undefined };
}

/** The size of a file, 0 when it is not there: where join starts reading. */
export function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What a file holds past offset (all of it when it shrank: rotated), '' when it is not there. */
export function readLogSince(path: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(path).size;
    const from = size < offset ? 0 : offset;
    const buffer = Buffer.alloc(Math.min(size - from, 1024 * 1024));
    const read = readSync(fd, buffer, 0, buffer.length, Math.max(from, size - buffer.length));
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The last lines of text, for a message when the log itself is about to be removed. */
export function lastLines(text: string, count: number): string[] {
  return stripAnsi(text).split('\n').map((l) => l.trim()).filter(Boolean).slice(-count);
}
