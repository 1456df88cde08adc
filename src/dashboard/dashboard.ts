// `meshctl dashboard`'s wiring: read (poller) → state (snapshot, history,
// UI) → view model → screen. Each read takes the stats and the errors, and
// the mesh config when it is older than CONFIG_EVERY_MS; a failed read keeps
// the last good data on screen, puts the problem and its fix in the status
// line and is tried again at the next refresh, so the dashboard outlives a
// server restart or a revoked token.

import type { ApiClient } from '../cli/api-client.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { StatsWindow } from '../lib/stats/answer.ts';
import { fetchStats } from '../lib/stats/client.ts';
import { fetchErrors, fetchMeshConfig, problemOf, type MeshConfig, type Problem } from './api.ts';
import { emptyHistory, withAnswer, withGap } from './history.ts';
import { initialState, onKey, reconcileSelection } from './keys.ts';
import { openTerminal } from './layout.ts';
import { startPoller } from './poller.ts';
import { layoutView, type Snapshot } from './view-model.ts';

export interface DashboardOptions {
  client: ApiClient;
  refreshMs?: number;
  window?: StatsWindow;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  title?: string;
  /** For tests; the system clock by default. */
  clock?: Clock;
}

export const DEFAULT_REFRESH_MS = 1000;
/** Routes and intentions change rarely; reading them every 5 s is plenty. */
const CONFIG_EVERY_MS = 5000;
const ERRORS_LIMIT = 50;

/** Runs until the user quits (q, Ctrl-C) or the process is told to stop (SIGTERM, SIGHUP); the caller decides the exit code. */
export function runDashboard(options: DashboardOptions): Promise<void> {
  const { client } = options;
  const clock = options.clock ?? systemClock;
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const title = options.title ?? 'meshctl dashboard';
  let ui = initialState(options.window ?? '10s');
  let snapshot: Snapshot = {};
  let history = emptyHistory();
  let config: MeshConfig | undefined;
  let configReadAt = -Infinity;
  let done = false;
  const terminal = openTerminal({ title, ...(options.input ? { input: options.input } : {}), ...(options.output ? { output: options.output } : {}) });
  const names = () => snapshot.stats?.services.map((s) => s.service) ?? [];
  const errorsScope = () => (ui.errorsScope === 'selected' ? ui.selected : undefined);

  const redraw = () => {
    const { cols, rows } = terminal.size();
    const { geometry, view } = layoutView(snapshot, history, ui, cols, rows, { title, refreshMs, now: clock.now() });
    terminal.draw(view, geometry);
  };

  const read = async () => {
    const window: StatsWindow = ui.window;
    const configDue = clock.now() - configReadAt >= CONFIG_EVERY_MS;
    const [stats, errors, mesh] = await Promise.allSettled([fetchStats(client, { window }), fetchErrors(client, ERRORS_LIMIT, errorsScope()), configDue ? fetchMeshConfig(client) : Promise.resolve(config)]);
    if (done) return;
    let problem: Problem | undefined;
    if (mesh.status === 'fulfilled') {
      config = mesh.value;
      if (configDue) configReadAt = clock.now();
    } else problem = problemOf(mesh.reason, 'routes and intentions');
    if (errors.status === 'rejected') problem = problemOf(errors.reason, 'errors');
    if (stats.status === 'rejected') {
      problem = problemOf(stats.reason, 'stats');
      history = withGap(history);
    } else if (window === ui.window) {
      // An answer for a window the user has since left is dropped; the next read asks for the new one.
      history = withAnswer(history, stats.value);
      ui = reconcileSelection(ui, stats.value.services.map((s) => s.service));
    }
    snapshot = {
      ...(stats.status === 'fulfilled' && window === ui.window ? { stats: stats.value } : snapshot.stats ? { stats: snapshot.stats } : {}),
      ...(errors.status === 'fulfilled' ? { errors: errors.value } : snapshot.errors ? { errors: snapshot.errors } : {}),
      ...(config ? { config } : {}),
      ...(stats.status === 'fulfilled' ? { updatedAt: clock.now() } : snapshot.updatedAt !== undefined ? { updatedAt: snapshot.updatedAt } : {}),
      ...(problem ? { problem } : {}),
    };
    redraw();
  };

  // The errors of a newly selected service, without waiting for the next refresh (and without a history point).
  const readErrors = async () => {
    const scope = errorsScope();
    try {
      const errors = await fetchErrors(client, ERRORS_LIMIT, scope);
      if (done || scope !== errorsScope()) return;
      snapshot = { ...snapshot, errors };
      redraw();
    } catch {
      // The next refresh reports it.
    }
  };

  const poller = startPoller(clock, refreshMs, read);
  return new Promise<void>((resolve) => {
    const quit = () => {
      if (done) return;
      done = true;
      poller.stop();
      process.off('SIGTERM', quit);
      process.off('SIGHUP', quit);
      terminal.destroy();
      resolve();
    };
    process.on('SIGTERM', quit);
    process.on('SIGHUP', quit);
    terminal.onResize(redraw);
    terminal.onKey((key) => {
      const before = ui;
      const result = onKey(ui, key, names());
      if (result.effect === 'quit') return quit();
      ui = result.state;
      if (ui.window !== before.window) history = emptyHistory(history.maxPoints);
      if (result.effect === 'refresh') poller.now();
      else if (ui.selected !== before.selected && ui.errorsScope === 'selected') void readErrors();
      redraw();
    });
    redraw();
  });
}
