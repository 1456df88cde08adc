// What each key does, as a pure function of the UI state: the layout only
// forwards key names here and redraws, so the key map is table-tested and
// the help text is written from the same table.

import { STATS_WINDOW_NAMES, type StatsWindow } from '../lib/stats/answer.ts';

export interface UiState {
  /** The selected service, by name, so the selection stays on it when rows come and go. */
  selected: string | undefined;
  window: StatsWindow;
  /** The lower pane: the selected service's detail, or the mesh's edges. */
  view: 'detail' | 'topology';
  /** Errors of the selected service, or of every service. */
  errorsScope: 'selected' | 'all';
  help: boolean;
}

/** What the caller must do besides redrawing. */
export type Effect = 'none' | 'quit' | 'refresh';

export interface KeyBinding {
  keys: readonly string[];
  /** As the help overlay shows the keys. */
  label: string;
  does: string;
}

export const BINDINGS: readonly KeyBinding[] = [
  { keys: ['up', 'k'], label: '↑ k', does: 'select the service above' },
  { keys: ['down', 'j'], label: '↓ j', does: 'select the service below' },
  { keys: ['w'], label: 'w', does: 'next stats window: 10s, 1m, 10m (clears the sparklines)' },
  { keys: ['t'], label: 't', does: 'topology: who calls whom, instead of the detail pane' },
  { keys: ['e'], label: 'e', does: 'recent errors: the selected service\'s, or every service\'s' },
  { keys: ['r'], label: 'r', does: 'refresh now' },
  { keys: ['?'], label: '?', does: 'this help (any key closes it)' },
  { keys: ['q', 'C-c'], label: 'q Ctrl-C', does: 'quit' },
];

/** Every key name the layout should forward. */
export const KEY_NAMES: readonly string[] = [...new Set([...BINDINGS.flatMap((b) => b.keys), 'escape'])];

export function initialState(window: StatsWindow): UiState {
  return { selected: undefined, window, view: 'detail', errorsScope: 'selected', help: false };
}

/** Keeps the selection on a service that exists: the first one when it went away or none was chosen. */
export function reconcileSelection(state: UiState, services: readonly string[]): UiState {
  if (state.selected !== undefined && services.includes(state.selected)) return state;
  return { ...state, selected: services[0] };
}

function move(state: UiState, services: readonly string[], by: number): UiState {
  if (services.length === 0) return state;
  const at = state.selected === undefined ? -1 : services.indexOf(state.selected);
  const next = Math.min(services.length - 1, Math.max(0, at + by));
  return { ...state, selected: services[next] };
}

/** The state after a key, and what else to do. `services` is the order of the table's rows. */
export function onKey(state: UiState, key: string, services: readonly string[]): { state: UiState; effect: Effect } {
  if (key === 'q' || key === 'C-c') return { state, effect: 'quit' };
  if (state.help) return { state: { ...state, help: false }, effect: 'none' };
  switch (key) {
    case 'up':
    case 'k':
      return { state: move(state, services, -1), effect: 'none' };
    case 'down':
    case 'j':
      return { state: move(state, services, 1), effect: 'none' };
    case 'w':
      return { state: { ...state, window: STATS_WINDOW_NAMES[(STATS_WINDOW_NAMES.indexOf(state.window) + 1) % STATS_WINDOW_NAMES.length]! }, effect: 'refresh' };
    case 't':
      return { state: { ...state, view: state.view === 'detail' ? 'topology' : 'detail' }, effect: 'none' };
    case 'e':
      return { state: { ...state, errorsScope: state.errorsScope === 'selected' ? 'all' : 'selected' }, effect: 'refresh' };
    case 'r':
      return { state, effect: 'refresh' };
    case '?':
      return { state: { ...state, help: true }, effect: 'none' };
    default:
      return { state, effect: 'none' };
  }
}
