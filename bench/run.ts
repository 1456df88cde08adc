// Benchmark dispatcher: `node bench/run.ts NAME` runs bench/NAME.ts's exported
// main(). With no name it lists the benchmarks; an unknown name exits 2.
// A benchmark is any bench/<name>.ts (other than this file) that exports
// `main(): Promise<void>`; results go under bench/results/.

import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

function knownBenchmarks(): string[] {
  return readdirSync(BENCH_DIR, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && e.name !== 'run.ts' && !e.name.endsWith('-process.ts'))
    .map((e) => e.name.slice(0, -'.ts'.length))
    .sort();
}

async function run(argv: string[]): Promise<number> {
  const known = knownBenchmarks();
  const name = argv[0];
  if (name === undefined || name === '' || name === '--help' || name === '-h' || name === '--list') {
    console.log('usage: npm run bench -- NAME   (or: node bench/run.ts NAME)');
    console.log(`benchmarks: ${known.length > 0 ? known.join(', ') : '(none)'}`);
    return 0;
  }
  if (!known.includes(name)) {
    console.error(`unknown benchmark "${name}"; known: ${known.length > 0 ? known.join(', ') : '(none)'}`);
    return 2;
  }
  const mod = (await import(pathToFileURL(join(BENCH_DIR, `${name}.ts`)).href)) as { main?: unknown };
  if (typeof mod.main !== 'function') {
    console.error(`bench/${name}.ts does not export main(): Promise<void>`);
    return 2;
  }
  await (mod.main as () => Promise<void>)();
  return 0;
}

// Exit explicitly once main() settles (its own cleanup has run by then), so a
// stray keep-alive socket or timer in a benchmark cannot hold the run open.
run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
