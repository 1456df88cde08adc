// Printing: JSON for --json, aligned columns otherwise, colour on a TTY only.

import chalk, { Chalk } from 'chalk';
import { stripAnsi } from '../lib/ansi.ts';

export const colour = process.stdout.isTTY ? chalk : new Chalk({ level: 0 });

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints rows as aligned columns under a header. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => stripAnsi(r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - stripAnsi(cell).length)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${colour.bold(line(header))}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
