// The services table: which columns fit a width, and the rows that show.
// SERVICE, RPS, SUCCESS and P99 always show; the others join in order of
// use while the service names keep room, so an 80-column terminal reads
// "SERVICE HEALTHY RPS SUCCESS P50 P95 P99" and a narrow one drops to the four.

import type { ServiceRow } from '../lib/stats/answer.ts';
import { formatCount, formatMs, formatRps, formatSuccess } from '../lib/stats/format.ts';
import { fit, successTone, type Line, type Tone } from './format.ts';

interface Column {
  title: string;
  width: number;
  /** 0: always shown; higher numbers are dropped first. */
  priority: number;
  cell: (s: ServiceRow) => string;
}

const COLUMNS: readonly Column[] = [
  { title: 'HEALTHY', width: 7, priority: 1, cell: (s) => `${s.instances.healthy}/${s.instances.total}` },
  { title: 'RPS', width: 7, priority: 0, cell: (s) => formatRps(s.rps) },
  { title: 'SUCCESS', width: 7, priority: 0, cell: (s) => formatSuccess(s.successRate) },
  { title: 'P50', width: 7, priority: 3, cell: (s) => formatMs(s.latencyMs?.p50) },
  { title: 'P95', width: 7, priority: 2, cell: (s) => formatMs(s.latencyMs?.p95) },
  { title: 'P99', width: 7, priority: 0, cell: (s) => formatMs(s.latencyMs?.p99) },
  { title: 'TCP', width: 5, priority: 4, cell: (s) => formatCount(s.tcp.open) },
  { title: 'REQS', width: 8, priority: 5, cell: (s) => formatCount(s.requests) },
];

const GAP = 2;
/** The marker column: ">" on the selected row. */
const GUTTER = 2;
/** Optional columns join only while service names keep this much room. */
const NAME_ROOM = 20;
const NAME_MIN = 6;
const NAME_MAX = 40;

export interface TableLayout {
  nameWidth: number;
  columns: readonly Column[];
}

export function tableLayout(width: number, names: readonly string[]): TableLayout {
  const used = (cols: readonly Column[]) => GUTTER + cols.reduce((sum, c) => sum + GAP + c.width, 0);
  let chosen = COLUMNS.filter((c) => c.priority === 0);
  for (const priority of [1, 2, 3, 4, 5]) {
    const next = COLUMNS.filter((c) => c.priority <= priority);
    if (width - used(next) >= NAME_ROOM) chosen = next;
  }
  const longest = Math.max('SERVICE'.length, ...names.map((n) => [...n].length));
  const nameWidth = Math.max(NAME_MIN, Math.min(NAME_MAX, longest, width - used(chosen)));
  return { nameWidth, columns: chosen };
}

function row(layout: TableLayout, name: string, cells: readonly string[], marker: string): string {
  return marker.padEnd(GUTTER) + fit(name, layout.nameWidth) + cells.map((c, i) => ' '.repeat(GAP) + fit(c, layout.columns[i]!.width, 'right')).join('');
}

/** The first row to show so the selected one is in view. */
export function scrollStart(selectedIndex: number, count: number, capacity: number): number {
  if (capacity <= 0 || count <= capacity || selectedIndex < 0) return 0;
  return Math.min(count - capacity, Math.max(0, selectedIndex - capacity + 1));
}

function rowTone(s: ServiceRow): Tone {
  if (s.instances.total > 0 && s.instances.healthy === 0) return 'bad';
  const success = successTone(s.successRate);
  if (success === 'bad') return 'bad';
  if (s.instances.healthy < s.instances.total || success === 'warn') return 'warn';
  return success;
}

/**
 * The header row and the rows that fit `height` lines (the header included), scrolled to the selection.
 * `services` is undefined until the stats have been read once: the table then claims nothing (a dash),
 * and the status line says why (connecting, or the read's problem and its fix).
 */
export function tableLines(services: readonly ServiceRow[] | undefined, selected: string | undefined, width: number, height: number): Line[] {
  const layout = tableLayout(width, (services ?? []).map((s) => s.service));
  const more = (lines: Line[]) => lines.map((l) => ({ ...l, text: fit(l.text, width) }));
  const header: Line = { text: row(layout, 'SERVICE', layout.columns.map((c) => c.title), ''), heading: true };
  if (services === undefined) return more([header, { text: '  —', tone: 'idle' }]);
  if (services.length === 0) return more([header, { text: '  no services in the catalog yet', tone: 'idle' }]);
  const capacity = Math.max(1, height - 1);
  const at = services.findIndex((s) => s.service === selected);
  const start = scrollStart(at, services.length, capacity);
  const rows = services.slice(start, start + capacity).map((s): Line => ({
    text: row(layout, s.service, layout.columns.map((c) => c.cell(s)), s.service === selected ? '>' : ''),
    tone: rowTone(s),
    selected: s.service === selected,
  }));
  return more([header, ...rows]);
}
