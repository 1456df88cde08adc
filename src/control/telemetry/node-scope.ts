// What a node may speak for: the traffic its own proxies carry. A request is
// seen by the caller's proxy (outbound, on the host of the source service)
// and by the callee's (inbound, on the host of the destination service), so
// a node's word counts only for inbound traffic to a service it hosts and
// outbound traffic from one. The catalog says what runs where: a token's
// service identities say what a host may register, not what it runs, and a
// token for `api` on a host that serves nothing could otherwise still speak
// for every `api` instance. Telemetry reports and tap events use this one rule.

import type { TelemetryReport } from '../../config/telemetry-report.ts';
import { servicesOn, type Reader } from '../catalog/catalog.ts';

export interface Sided {
  readonly direction: 'inbound' | 'outbound';
  readonly source: string;
  readonly destination: string;
}

/** The names of the services registered on `node`. */
export function servicesOfNode(reader: Reader, node: string): ReadonlySet<string> {
  return new Set(servicesOn(reader, node).map((s) => s.value.Service));
}

/** Whether the side of the traffic this entry describes is one the node's proxies see. */
export function seenByNode(entry: Sided, hosted: ReadonlySet<string>): boolean {
  return hosted.has(entry.direction === 'inbound' ? entry.destination : entry.source);
}

export interface Refused {
  series: number;
  open: number;
  errors: number;
}

/** The report with only what `hosted` lets the node speak for, and how much was left out. */
export function scopeReport(report: TelemetryReport, hosted: ReadonlySet<string>): { report: TelemetryReport; refused: Refused } {
  const series = report.series.filter((s) => seenByNode(s, hosted));
  const open = report.open.filter((o) => seenByNode(o, hosted));
  const errors = report.errors.filter((e) => seenByNode(e, hosted));
  return {
    report: { node: report.node, series, open, errors },
    refused: { series: report.series.length - series.length, open: report.open.length - open.length, errors: report.errors.length - errors.length },
  };
}
