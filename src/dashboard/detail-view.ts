// The detail pane of the selected service: its figures, sparklines of the
// rolling history, and the routes and intentions that concern it (its own
// routes, other services' routes that send or mirror to it, intentions
// where it is the source or the destination, wildcards included).

import { describeRoute, referencesOf } from '../config/routes.ts';
import { describeHttpMatch } from '../config/intentions.ts';
import type { ServiceRow } from '../lib/stats/answer.ts';
import { formatMs, formatRps, formatSuccess } from '../lib/stats/format.ts';
import type { IntentionRecord, MeshConfig } from './api.ts';
import { fit, sparkline, truncate, type Line } from './format.ts';
import type { Series } from './history.ts';

const LABEL = 9;
const VALUE = 9;

/** The routes that concern a service, one line each. */
export function routeLines(config: MeshConfig, service: string): string[] {
  const own = config.routers.find((e) => e.Name === service)?.Config.Routes.map((r) => describeRoute(r, service)) ?? [];
  const elsewhere = config.routers
    .filter((e) => e.Name !== service)
    .flatMap((e) => {
      const names = new Set(referencesOf(e.Name, e.Config).filter((r) => r.service === service).map((r) => r.route));
      return e.Config.Routes.filter((r) => names.has(r.Name)).map((r) => `(of ${e.Name}) ${describeRoute(r, e.Name)}`);
    });
  return [...own, ...elsewhere];
}

function intentionText(i: IntentionRecord): string[] {
  const pair = `${i.SourceName} → ${i.DestinationName}`;
  return [...(i.Permissions ?? []).map((p) => `${p.Action} ${pair} (${describeHttpMatch(p.HTTP)})`), ...(i.Action ? [`${i.Action} ${pair}${i.Permissions?.length ? ' (all other requests)' : ''}`] : [])];
}

/** The intentions that concern a service, highest precedence first (the API's order). */
export function intentionLines(config: MeshConfig, service: string): string[] {
  const concerns = (name: string) => name === service || name === '*';
  return config.intentions.filter((i) => concerns(i.SourceName) || concerns(i.DestinationName)).flatMap(intentionText);
}

/** Success rates live near 100%: scaled from 90%, a drop from 99.9% to 97% is visible without magnifying noise. */
const SUCCESS_FLOOR = 0.9;

function sparkRow(label: string, values: readonly (number | null)[], value: string, width: number, floor = 0): Line {
  const sparkWidth = Math.max(0, width - LABEL - VALUE - 1);
  return { text: fit(`${fit(label, LABEL)}${sparkline(values, sparkWidth, floor)} ${fit(value, VALUE, 'right')}`, width) };
}

export interface DetailInput {
  stats: ServiceRow | undefined;
  series: Series | undefined;
  config: MeshConfig | undefined;
  window: string;
}

/** The pane's lines for `width` × `height`; what does not fit is counted on the last line. */
export function detailLines(input: DetailInput, width: number, height: number): Line[] {
  const { stats, series, config } = input;
  if (!stats) return [{ text: fit('no service selected', width), heading: true }];
  const health = `${stats.instances.healthy}/${stats.instances.total} healthy`;
  const title: Line = { text: fit(`${stats.service} · ${health} · ${formatRps(stats.rps)} rps · ${formatSuccess(stats.successRate)} ok · p99 ${formatMs(stats.latencyMs?.p99)} (${input.window})`, width), heading: true };
  const sparks = [
    sparkRow('RPS', series?.rps ?? [], `${formatRps(stats.rps)}/s`, width),
    sparkRow('SUCCESS', series?.success ?? [], formatSuccess(stats.successRate), width, SUCCESS_FLOOR),
    sparkRow('P99', series?.p99 ?? [], formatMs(stats.latencyMs?.p99), width),
  ];
  const listed = (what: string, items: readonly string[] | undefined, none: string): Line[] => {
    if (items === undefined) return [{ text: fit(`${what}: not read yet`, width), tone: 'idle' }];
    if (items.length === 0) return [{ text: fit(`${what}: ${none}`, width), tone: 'idle' }];
    return [{ text: fit(`${what}:`, width), heading: true }, ...items.map((t) => ({ text: fit(`  ${t}`, width) }))];
  };
  const config_ = [
    ...listed('routes', config && routeLines(config, stats.service), 'none (requests go to every instance)'),
    ...listed('intentions', config && intentionLines(config, stats.service), 'none (the mesh default policy decides)'),
  ];
  const lines = [title, ...sparks, ...config_];
  if (lines.length <= height) return lines;
  const kept = lines.slice(0, Math.max(1, height - 1));
  return [...kept, { text: truncate(`… ${lines.length - kept.length} more lines (a taller terminal shows them)`, width), tone: 'idle' }];
}
