// Where each pane goes for a terminal size: a pure function, so the rules
// for small terminals are tested, not discovered. Panes never overlap; when
// there is no room, the less important ones shrink and then go (errors
// first, then the detail pane), and the services table stays.

export interface Rect {
  top: number;
  left: number;
  width: number;
  height: number;
}

export interface Geometry {
  header: Rect;
  table: Rect;
  /** The detail or topology pane; absent when the terminal is too short. */
  lower?: Rect;
  errors?: Rect;
  status: Rect;
}

/** From this width the lower panes sit side by side. */
export const SIDE_BY_SIDE_COLS = 120;
/** Below this a pane is not worth showing: a title and two lines. */
const MIN_PANE = 3;

/** statusHeight: the status line's lines (a problem and its fix may take up to 3). */
export function computeGeometry(cols: number, rows: number, serviceCount: number, statusHeight = 1): Geometry {
  const width = Math.max(1, cols);
  const header: Rect = { top: 0, left: 0, width, height: 1 };
  const statusLines = Math.max(1, Math.min(statusHeight, rows - 3));
  const status: Rect = { top: Math.max(1, rows - statusLines), left: 0, width, height: statusLines };
  const body = Math.max(1, rows - 1 - statusLines);
  // The table takes what its rows need, up to 40% of the body; it scrolls beyond.
  const tableMax = Math.max(MIN_PANE, Math.floor(body * 0.4));
  const tableHeight = Math.min(body, Math.max(2, serviceCount + 1), tableMax);
  const table: Rect = { top: 1, left: 0, width, height: tableHeight };
  const rest = body - tableHeight;
  const top = 1 + tableHeight;
  if (rest < MIN_PANE) return { header, table, status };
  if (width >= SIDE_BY_SIDE_COLS) {
    const lowerWidth = Math.floor(width * 0.55);
    return { header, table, lower: { top, left: 0, width: lowerWidth, height: rest }, errors: { top, left: lowerWidth + 1, width: width - lowerWidth - 1, height: rest }, status };
  }
  const lowerHeight = rest >= 14 ? Math.ceil(rest * 0.55) : rest >= 8 ? rest - MIN_PANE : rest;
  const errorsHeight = rest - lowerHeight;
  const lower: Rect = { top, left: 0, width, height: lowerHeight };
  if (errorsHeight < MIN_PANE) return { header, table, lower: { ...lower, height: rest }, status };
  return { header, table, lower, errors: { top: top + lowerHeight, left: 0, width, height: errorsHeight }, status };
}
