// `meshctl stat [SERVICE] [--window 10s|1m|10m] [--json] [--edges]`: the
// golden signals per service as the control plane holds them (GET
// /v1/mesh/stats), laid out like `linkerd viz stat`. A read-only token is enough.

import type { Command } from 'commander';
import { MeshError } from '../lib/errors.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { printJson, printTable } from './output.ts';

const WINDOWS = ['10s', '1m', '10m'] as const;

type Percentiles = { p50: number; p95: number; p99: number } | null;

interface StatsAnswer {
  window: string;
  windowSeconds: number;
  services: Array<{ service: string; instances: { healthy: number; total: number }; requests: number; rps: number; successRate: number | null; latencyMs: Percentiles; tcp: { open: number } }>;
  edges: Array<{ source: string; destination: string; requests: number; rps: number; successRate: number | null; latencyMs: Percentiles }>;
}

export function addStatCommand(program: Command): void {
  withTarget(
    program
      .command('stat [service]')
      .description('requests, success rate, RPS and latency per service (what its instances served), from the control plane')
      .option('--window <window>', `the window to read: ${WINDOWS.join(', ')}`, '1m')
      .option('--edges', 'show caller → callee edges (what the callers\' proxies saw) instead of services')
      .option('--json', 'print the API answer (GET /v1/mesh/stats)')
      .addHelpText('after', '\nExamples:\n  meshctl stat\n  meshctl stat api --window 10s\n  meshctl stat --edges\n  meshctl stat --json --window 10m\n\nSUCCESS is the share of requests answered with a status below 500 and no mesh error; RPS is requests over the window.'),
  ).action(async (service: string | undefined, flags: TargetFlags & { window: string; edges?: boolean; json?: boolean }) => {
    if (!(WINDOWS as readonly string[]).includes(flags.window)) {
      throw new MeshError('MESH_E_USAGE', `unknown window "${flags.window}"`, { hint: `use --window ${WINDOWS.join(', --window ')}` });
    }
    const query = new URLSearchParams({ window: flags.window, ...(service ? { service } : {}) });
    const { body } = await clientFor(flags).request<StatsAnswer>('GET', `/v1/mesh/stats?${query}`);
    if (flags.json) return printJson(body);
    if (flags.edges) {
      printTable(['SRC → DST', 'RPS', 'SUCCESS', 'LATENCY_P99'], body.edges.map((e) => [`${e.source || '(outside the mesh)'} → ${e.destination}`, rps(e.rps), success(e.successRate), ms(e.latencyMs?.p99)]));
      return;
    }
    printTable(
      ['NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN'],
      body.services.map((s) => [s.service, `${s.instances.healthy}/${s.instances.total}`, success(s.successRate), rps(s.rps), ms(s.latencyMs?.p50), ms(s.latencyMs?.p95), ms(s.latencyMs?.p99), String(s.tcp.open)]),
    );
  });
}

const success = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(2)}%`);
const rps = (value: number) => `${value.toFixed(1)}rps`;
const ms = (value: number | undefined) => (value === undefined ? '-' : `${value < 10 ? value.toFixed(1) : Math.round(value)}ms`);
