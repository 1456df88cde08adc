// `meshctl dashboard`: the live terminal view of the mesh (src/dashboard/).
// Flags are checked here (exit 2); everything the server says, including
// refusals and outages, is shown on the dashboard's status line instead of
// ending it, because an operator watching an incident wants it to stay up.

import type { Command } from 'commander';
import { runDashboard, DEFAULT_REFRESH_MS } from '../dashboard/dashboard.ts';
import { parseGoDuration } from '../lib/duration.ts';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { WINDOW_CHOICES, windowFlag } from './window-flag.ts';

/** Faster than this would only load the server; the stats windows are 10 s and up. */
const MIN_REFRESH_MS = 200;

export function refreshFlag(text: string | undefined): number {
  if (text === undefined) return DEFAULT_REFRESH_MS;
  const ms = parseGoDuration(text);
  if (ms === undefined || ms < MIN_REFRESH_MS || ms > 3_600_000) {
    throw new MeshError('MESH_E_USAGE', `invalid --refresh ${JSON.stringify(text)}: expected a duration from 200ms to 1h`, { hint: 'give e.g. --refresh 2s' });
  }
  return ms;
}

export function addDashboardCommand(program: Command): void {
  withTarget(
    program
      .command('dashboard')
      .description('a live terminal view: services, their sparklines, routes and intentions, who calls whom, recent errors')
      .option('--refresh <duration>', 'how often to read the stats (default 1s)')
      .option('--window <window>', `the stats window to start with: ${WINDOW_CHOICES} (key w switches)`)
      .addHelpText(
        'after',
        `\nA read-only token is enough (meshctl token create --policy read --description dashboard).
Keys: ↑/↓ or j/k select, w window, t topology, e errors scope, r refresh, ? help, q quit.

Examples:
  meshctl dashboard
  meshctl dashboard --refresh 2s --window 1m
  ssh -t host-1 meshctl dashboard --token $READ_TOKEN`,
      ),
  ).action(async (flags: TargetFlags & { refresh?: string; window?: string }) => {
    const refreshMs = refreshFlag(flags.refresh);
    // The dashboard starts on the shortest window: it is watched live.
    const window = windowFlag(flags.window, '10s');
    if (!process.stdout.isTTY || !process.stdin.isTTY) {
      throw new MeshError('MESH_E_USAGE', 'meshctl dashboard needs a terminal: its input or output is not one', { hint: 'run it in an interactive terminal; over SSH, ssh -t HOST meshctl dashboard' });
    }
    await runDashboard({ client: clientFor(flags), refreshMs, window });
  });
}
