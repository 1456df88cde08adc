// How results are shown, like `linkerd check`: a heading per group, one
// √ / × / ‼ line per check, the detail and hint indented under failures and
// warnings, and a last line with the overall verdict. Pure: colour is passed
// in, so tests compare plain text.

import type { CheckGroup, CheckResult, CheckStatus } from './result.ts';

export interface Paint {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
}

export const plain: Paint = { green: (t) => t, red: (t) => t, yellow: (t) => t, dim: (t) => t };

export const GROUP_TITLES: Record<CheckGroup, string> = {
  server: 'meshctl server',
  host: 'this host',
  agent: 'meshctl agent',
};

export const MARKS: Record<CheckStatus, string> = { pass: '√', fail: '×', warn: '‼' };

export function formatLine(result: CheckResult, paint: Paint = plain): string {
  const mark = result.status === 'pass' ? paint.green(MARKS.pass) : result.status === 'fail' ? paint.red(MARKS.fail) : paint.yellow(MARKS.warn);
  if (result.status === 'pass') return `${mark} ${result.name}${result.detail ? paint.dim(` (${result.detail})`) : ''}`;
  const lines = [`${mark} ${result.name}`];
  if (result.detail) lines.push(`    ${result.detail}`);
  if (result.hint) lines.push(`    hint: ${result.hint}`);
  return lines.join('\n');
}

/** The whole report: groups in the order they first appear, each under its heading. */
export function formatReport(results: readonly CheckResult[], paint: Paint = plain): string {
  const groups = [...new Set(results.map((r) => r.group))];
  const blocks = groups.map((group) => {
    const title = GROUP_TITLES[group];
    return [title, '-'.repeat(title.length), ...results.filter((r) => r.group === group).map((r) => formatLine(r, paint))].join('\n');
  });
  const ok = checksOk(results);
  const warnings = results.filter((r) => r.status === 'warn').length;
  const summary = ok
    ? `Status check results are ${paint.green(MARKS.pass)}${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`
    : `Status check results are ${paint.red(MARKS.fail)}`;
  return `${[...blocks, summary].join('\n\n')}\n`;
}

/** Warnings do not fail the run; any failure does. */
export const checksOk = (results: readonly CheckResult[]): boolean => results.every((r) => r.status !== 'fail');

export const exitCodeOf = (results: readonly CheckResult[]): number => (checksOk(results) ? 0 : 1);

export function reportJson(results: readonly CheckResult[]): { checks: CheckResult[]; ok: boolean } {
  return { checks: results.map((r) => ({ group: r.group, name: r.name, status: r.status, detail: r.detail, hint: r.hint })), ok: checksOk(results) };
}

/** 1.2 s, 45 s, 12 min, 3.5 h, 2.0 d: coarse on purpose, for details. */
export function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (abs < 120_000) return `${Math.round(ms / 1000)} s`;
  if (abs < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (abs < 48 * 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}
