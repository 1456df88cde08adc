// Telemetry-sinks benchmark: what each finished HTTP request costs in the
// sinks the agent feeds on the request's own turn (Prometheus metrics, the
// stats summary, tap with no session, the access log, and all of them behind
// the fan-out). Two figures per case, each case in a process of its own
// (telemetry-sinks-process.ts):
//   - CPU time per record (process.cpuUsage around the feeding loop): wall-clock
//     work, so it moves with the machine's load;
//   - with --callgrind, instructions per record under valgrind's callgrind:
//     (Ir of a run with N2 records − Ir of a run with N1) / (N2 − N1), which
//     cancels start-up and warm-up and does not move with the load. Slow
//     (node under valgrind): about a minute per case.
// Usage: npm run bench -- telemetry-sinks [--callgrind] [CASE...]
// Results: one line per case on stdout and bench/results/telemetry-sinks.json.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const CHILD = fileURLToPath(new URL('./telemetry-sinks-process.ts', import.meta.url));
const CASES = ['metrics', 'summary', 'tap', 'access-log', 'fanout'];
const RECORDS = 500_000;
const WARMUP = 100_000;
/** Under callgrind: the same warm-up, then N1 or N2 records. */
const CALLGRIND_WARMUP = 20_000;
const CALLGRIND_N1 = 10_000;
const CALLGRIND_N2 = 60_000;

function cpuPerRecord(name: string): number {
  const out = execFileSync(process.execPath, [CHILD, name, String(RECORDS), String(WARMUP)], { encoding: 'utf8' });
  return (JSON.parse(out.trim()) as { nsPerRecord: number }).nsPerRecord;
}

/** Total instructions (Ir) of one run under callgrind. */
function instructions(name: string, n: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-callgrind-'));
  try {
    // --smc-check=all: V8 writes and rewrites machine code in anonymous memory, which valgrind must re-read.
    execFileSync('valgrind', ['--tool=callgrind', '--smc-check=all', `--callgrind-out-file=${join(dir, 'out.%p')}`, process.execPath, CHILD, name, String(n), String(CALLGRIND_WARMUP)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let total = 0;
    // One file per process (node spawns none here, but sum them if it did).
    for (const file of readdirSync(dir)) {
      const summary = /^summary: (\d+)/m.exec(readFileSync(join(dir, file), 'utf8')) ?? /^totals: (\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
      if (!summary) throw new Error(`no instruction total in ${file}`);
      total += Number(summary[1]);
    }
    return total;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(): Promise<void> {
  const args = process.argv.slice(3);
  const callgrind = args.includes('--callgrind');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !CASES.includes(n));
  if (unknown.length > 0) throw new Error(`unknown case(s) ${unknown.join(', ')}; known: ${CASES.join(', ')}`);
  const results: unknown[] = [];
  for (const name of names.length > 0 ? names : CASES) {
    const line: Record<string, unknown> = { case: name, cpuNsPerRecord: cpuPerRecord(name) };
    if (callgrind) line.instructionsPerRecord = Math.round((instructions(name, CALLGRIND_N2) - instructions(name, CALLGRIND_N1)) / (CALLGRIND_N2 - CALLGRIND_N1));
    console.log(JSON.stringify(line));
    results.push(line);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'telemetry-sinks.json'), `${JSON.stringify({ node: process.version, records: RECORDS, callgrind: callgrind ? { warmup: CALLGRIND_WARMUP, n1: CALLGRIND_N1, n2: CALLGRIND_N2 } : undefined, results }, null, 2)}\n`);
}
