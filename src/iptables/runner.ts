// How src/iptables runs programs: one injectable function, so the executor
// and the user helper are tested with a fake and the namespace tests run the
// real thing inside `ip netns exec`.

import { execa } from 'execa';

export interface RunResult {
  /** 127 when the program is not installed (as a shell reports it). */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file args`, with `input` on stdin when given. Never rejects on a non-zero exit. */
export type CommandRunner = (file: string, args: readonly string[], input?: string) => Promise<RunResult>;

export const NOT_INSTALLED = 127;

export const execaRunner: CommandRunner = async (file, args, input) => {
  const result = await execa(file, args, { reject: false, ...(input === undefined ? { stdin: 'ignore' as const } : { input }), timeout: 60_000 });
  if (result.exitCode === undefined) {
    if ((result as { code?: string }).code === 'ENOENT') return { exitCode: NOT_INSTALLED, stdout: '', stderr: `${file}: not found` };
    throw new Error(result.shortMessage);
  }
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};

/** The first non-empty line of a program's complaint, for one-line errors. */
export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '(no message)';
}
