// `meshctl stat [SERVICE] [--window 10s|1m|10m] [--json] [--edges]`: the
// golden signals per service as the control plane holds them (GET
// /v1/mesh/stats), laid out like `linkerd viz stat`. A read-only token is enough.
// The figures are written as the dashboard writes them (src/lib/stats/format.ts);
// --json prints the answer as it came, raw numbers (a contract scripts read).

import type { Command } from 'commander';
import { DEFAULT_STATS_WINDOW } from '../lib/stats/answer.ts';
import { fetchStats } from '../lib/stats/client.ts';
import { formatCount, formatMs, formatRps, formatSuccess } from '../lib/stats/format.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';
import { WINDOW_CHOICES, windowFlag } from './window-flag.ts';

export function addStatCommand(program: Command): void {
  withTarget(
    program
      .command('stat [service]')
      .description('requests, success rate, RPS and latency per service (what its instances served), from the control plane')
      .option('--window <window>', `the window to read: ${WINDOW_CHOICES}`, DEFAULT_STATS_WINDOW)
      .option('--edges', 'show caller → callee edges (what the callers\' proxies saw) instead of services')
      .option('--json', 'print the API answer (GET /v1/mesh/stats)')
      .addHelpText('after', '\nExamples:\n  meshctl stat\n  meshctl stat api --window 10s\n  meshctl stat --edges\n  meshctl stat --json --window 10m\n\nSUCCESS is the share of requests answered with a status below 500 and no mesh error, 100.00% only when none failed; RPS is requests over the window (<0.01 when some came, but fewer).'),
  ).action(async (service: string | undefined, flags: TargetFlags & { window: string; edges?: boolean; json?: boolean }) => {
    const window = windowFlag(flags.window, DEFAULT_STATS_WINDOW);
    const body = await fetchStats(clientFor(flags), { window, ...(service ? { service } : {}) });
    if (flags.json) return printJson(body);
    if (flags.edges) {
      printTable(['SRC → DST', 'RPS', 'SUCCESS', 'LATENCY_P99'], body.edges.map((e) => [`${e.source || '(outside the mesh)'} → ${e.destination}`, rps(e.rps), formatSuccess(e.successRate), formatMs(e.latencyMs?.p99)]));
      return;
    }
    printTable(
      ['NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN'],
      body.services.map((s) => [s.service, `${s.instances.healthy}/${s.instances.total}`, formatSuccess(s.successRate), rps(s.rps), formatMs(s.latencyMs?.p50), formatMs(s.latencyMs?.p95), formatMs(s.latencyMs?.p99), formatCount(s.tcp.open)]),
    );
  });
}

/** The unit stays in the cell, as linkerd writes it: "12.3rps". */
const rps = (value: number) => `${formatRps(value)}rps`;
