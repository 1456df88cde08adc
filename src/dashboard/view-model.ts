// From what was read (stats, errors, config, history) and the UI state to
// the lines of every pane, for a given geometry. Pure: the layout draws what
// this returns and nothing else, so golden tests see what the terminal shows.

import type { EdgeRow, StatsAnswer } from '../lib/stats/answer.ts';
import { formatMs, formatRps, formatSuccess } from '../lib/stats/format.ts';
import type { MeshConfig, MeshErrorRecord, Problem } from './api.ts';
import { detailLines } from './detail-view.ts';
import { fit, formatClock, successTone, truncate, wrap, type Line } from './format.ts';
import { computeGeometry, type Geometry } from './geometry.ts';
import type { History } from './history.ts';
import { BINDINGS, type UiState } from './keys.ts';
import { tableLines } from './table-view.ts';

/** Everything read so far; a failed read keeps the last good answer and sets the problem. */
export interface Snapshot {
  stats?: StatsAnswer;
  errors?: MeshErrorRecord[];
  config?: MeshConfig;
  /** When the last read succeeded, in ms since the epoch. */
  updatedAt?: number;
  problem?: Problem;
}

export interface View {
  header: string;
  table: Line[];
  lower: Line[];
  errors: Line[];
  status: Line[];
  help: Line[] | undefined;
}

export interface ViewContext {
  title: string;
  refreshMs: number;
  now: number;
}

const pad = (lines: Line[], width: number): Line[] => lines.map((l) => ({ ...l, text: fit(l.text, width) }));

function limit(lines: Line[], height: number): Line[] {
  return lines.length <= height ? lines : lines.slice(0, Math.max(0, height));
}

/** Who calls whom: every edge, the selected service's first, then by RPS. */
export function edgeLines(edges: readonly EdgeRow[], selected: string | undefined, width: number, height: number): Line[] {
  const title: Line = { text: 'topology: who calls whom (t: back to the detail pane)', heading: true };
  if (edges.length === 0) return pad([title, { text: 'no calls in this window', tone: 'idle' }], width);
  const figures = 8 + 2 + 7 + 2 + 7;
  const nameWidth = Math.max(10, width - figures - 4);
  const involves = (e: EdgeRow) => e.source === selected || e.destination === selected;
  const sorted = [...edges].sort((a, b) => Number(involves(b)) - Number(involves(a)) || b.rps - a.rps || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
  const head: Line = { text: `  ${fit('SOURCE → DESTINATION', nameWidth)}  ${fit('RPS', 8, 'right')}  ${fit('SUCCESS', 7, 'right')}  ${fit('P99', 7, 'right')}`, heading: true };
  const rows = sorted.map((e): Line => ({
    text: `${involves(e) ? '>' : ' '} ${fit(`${e.source || '(outside the mesh)'} → ${e.destination}`, nameWidth)}  ${fit(formatRps(e.rps), 8, 'right')}  ${fit(formatSuccess(e.successRate), 7, 'right')}  ${fit(formatMs(e.latencyMs?.p99), 7, 'right')}`,
    tone: successTone(e.successRate),
  }));
  const all = [title, head, ...rows];
  if (all.length > height && height >= 3) return pad([...all.slice(0, height - 1), { text: `… ${all.length - height + 1} more edges`, tone: 'idle' }], width);
  return pad(limit(all, height), width);
}

/** "05:30:00 frontend→api 503 no_healthy_endpoints · detail · policy · GET /x · outbound host-1 api-1": the cause first. */
export function errorText(e: MeshErrorRecord): string {
  const where = [e.hop, e.node, e.endpoint].filter(Boolean).join(' ');
  const request = [e.method, e.path].filter(Boolean).join(' ');
  const time = formatClock(Date.parse(e.time));
  return [`${time} ${e.source || '(outside)'}→${e.destination} ${e.status} ${e.cause}`, e.detail, e.policy, request, where].filter(Boolean).join(' · ');
}

export function errorsPaneLines(errors: readonly MeshErrorRecord[] | undefined, scope: string | undefined, width: number, height: number): Line[] {
  const title: Line = { text: `recent errors · ${scope ?? 'every service'} (e: ${scope ? 'every service' : 'the selected service'})`, heading: true };
  if (errors === undefined) return pad([title, { text: 'not read yet', tone: 'idle' }], width);
  if (errors.length === 0) return pad([title, { text: 'none recorded', tone: 'ok' }], width);
  // Two lines per error when the pane has room for all of them that way (side by side, the pane is tall and narrow).
  const linesEach = errors.length * 2 <= height - 1 ? 2 : 1;
  const rows = errors.flatMap((e) => wrap(errorText(e), width - 2, linesEach).map((text, i): Line => ({ text: i === 0 ? text : `  ${text}`, tone: e.cause === 'upstream_5xx' ? 'warn' : 'bad' })));
  return pad(limit([title, ...rows], height), width);
}

/** At most this many lines for a problem and its fix; the rest of the screen keeps the last good data. */
export const STATUS_MAX_LINES = 3;

/** The status: what is wrong and the fix (wrapped, up to 3 lines), else when the data was read and the keys. */
export function statusLines(snapshot: Snapshot, context: ViewContext, width: number): Line[] {
  if (snapshot.problem) {
    const age = snapshot.updatedAt === undefined ? 'no data yet' : `data ${Math.round((context.now - snapshot.updatedAt) / 1000)}s old`;
    const text = `${snapshot.problem.message} — fix: ${snapshot.problem.fix} (retrying every ${context.refreshMs / 1000}s; ${age}; q quits)`;
    return wrap(text, width, STATUS_MAX_LINES).map((t) => ({ text: fit(t, width), tone: 'bad' as const }));
  }
  if (snapshot.updatedAt === undefined) return [{ text: fit('connecting…  ? help  q quit', width), tone: 'idle' }];
  return [{ text: fit(`updated ${formatClock(snapshot.updatedAt)}Z  ? help  q quit  ↑↓ jk select  w window  t topology  e errors`, width) }];
}

export function helpLines(): Line[] {
  const width = Math.max(...BINDINGS.map((b) => b.label.length));
  return [
    { text: 'keys', heading: true },
    ...BINDINGS.map((b) => ({ text: `${b.label.padEnd(width)}  ${b.does}` })),
    { text: '' },
    { text: 'panes', heading: true },
    { text: 'services  healthy/total instances, req/s, success, latency (inbound)' },
    { text: 'detail    sparklines (a point per refresh), routes and intentions' },
    { text: 'topology  caller → callee: req/s, success, p99 (as the caller saw it)' },
    { text: 'errors    the latest errors and their causes (mesh answers, 5xx)' },
  ];
}

/** Every pane's lines for this geometry. */
export function buildView(snapshot: Snapshot, history: History, ui: UiState, geometry: Geometry, context: ViewContext): View {
  const services = snapshot.stats?.services ?? [];
  const selected = services.find((s) => s.service === ui.selected);
  const lower = geometry.lower;
  const errors = geometry.errors;
  const headerText = `${context.title} · window ${ui.window} · refresh ${context.refreshMs / 1000}s${snapshot.stats ? ` · ${services.length} services` : ''}`;
  return {
    header: fit(headerText, geometry.header.width),
    table: tableLines(snapshot.stats?.services, ui.selected, geometry.table.width, geometry.table.height),
    lower: !lower
      ? []
      : ui.view === 'topology'
        ? edgeLines(snapshot.stats?.edges ?? [], ui.selected, lower.width, lower.height)
        : detailLines({ stats: selected, series: selected && history.services.get(selected.service), config: snapshot.config, window: ui.window }, lower.width, lower.height),
    errors: errors ? errorsPaneLines(snapshot.errors, ui.errorsScope === 'selected' ? ui.selected : undefined, errors.width, errors.height) : [],
    status: statusLines(snapshot, context, geometry.status.width).slice(0, geometry.status.height),
    help: ui.help ? helpLines().map((l) => ({ ...l, text: truncate(l.text, Math.max(10, geometry.header.width - 4)) })) : undefined,
  };
}

/** The geometry for this terminal size (the status line takes what the problem needs) and the view drawn in it. */
export function layoutView(snapshot: Snapshot, history: History, ui: UiState, cols: number, rows: number, context: ViewContext): { geometry: Geometry; view: View } {
  const statusHeight = statusLines(snapshot, context, cols).length;
  const geometry = computeGeometry(cols, rows, snapshot.stats?.services.length ?? 0, statusHeight);
  return { geometry, view: buildView(snapshot, history, ui, geometry, context) };
}
