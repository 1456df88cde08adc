// Telemetry-window benchmark: the server's rolling window (src/control/telemetry/window.ts)
// under a malicious agent (one token, 2,000 series a second with all 386
// latency buckets filled) and a legitimate mesh (2,000 series with 10 buckets
// each, from 20 nodes), for 30 s and for the whole retention (620 s of virtual
// time). Each case runs in a child process with --expose-gc, so the memory
// figures (heapUsed + arrayBuffers growth after a full GC) are its own.
// Results: one line per case on stdout and bench/results/telemetry-window.json.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const CHILD = fileURLToPath(new URL('./telemetry-window-process.ts', import.meta.url));

export async function main(): Promise<void> {
  const results: unknown[] = [];
  for (const name of ['malicious', 'legitimate']) {
    const out = execFileSync(process.execPath, ['--expose-gc', CHILD, name, '620'], { encoding: 'utf8' });
    const line = JSON.parse(out.trim()) as Record<string, unknown>;
    console.log(JSON.stringify(line));
    results.push(line);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'telemetry-window.json'), `${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
}
