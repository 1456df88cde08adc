// --window as `meshctl stat` and `meshctl dashboard` read it: the windows the
// server keeps (src/lib/stats/answer.ts), refused with the same words in both.

import { isStatsWindow, STATS_WINDOW_NAMES, type StatsWindow } from '../lib/stats/answer.ts';
import { MeshError } from '../lib/errors.ts';

/** For the flag's help text: "10s, 1m, 10m". */
export const WINDOW_CHOICES = STATS_WINDOW_NAMES.join(', ');

/** The window named, `fallback` when the flag is absent, or a usage error naming the ones there are. */
export function windowFlag(text: string | undefined, fallback: StatsWindow): StatsWindow {
  if (text === undefined) return fallback;
  if (!isStatsWindow(text)) throw new MeshError('MESH_E_USAGE', `invalid --window ${JSON.stringify(text)}`, { hint: `give one of ${WINDOW_CHOICES}` });
  return text;
}
