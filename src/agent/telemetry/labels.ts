// Record → Prometheus labels, pure. Every label takes its values from a
// bounded set: service names (the catalog's), route names (the config's),
// status codes, a direction and a boolean. Never a path, an instance id or a
// request id: one series per such value would grow without bound.

import type { Direction, HttpRecord, ResilienceEvent, TcpRecord } from '../../proxy/telemetry/records.ts';

export const HTTP_LABELS = ['direction', 'source_service', 'destination_service', 'route', 'response_code', 'mtls'] as const;
export const TCP_LABELS = ['direction', 'source_service', 'destination_service'] as const;
export const RESILIENCE_LABELS = ['destination_service'] as const;
export const OVERFLOW_LABELS = ['destination_service', 'limit'] as const;

export type HttpLabels = Record<(typeof HTTP_LABELS)[number], string>;
export type TcpLabels = Record<(typeof TCP_LABELS)[number], string>;

/** A status outside 100..599 (a socket that died before any answer) is counted as 0, never as itself. */
export const responseCodeOf = (status: number): number => (Number.isInteger(status) && status >= 100 && status <= 599 ? status : 0);

const codeOf = (status: number): string => String(responseCodeOf(status));

/** A caller outside the mesh (plaintext, no certificate) has source_service="" (no label, in Prometheus's terms). */
export function httpLabels(record: HttpRecord): HttpLabels {
  return {
    direction: record.direction,
    source_service: record.source,
    destination_service: record.destination,
    route: record.route ?? '',
    response_code: codeOf(record.status),
    mtls: record.mtls ? 'true' : 'false',
  };
}

/** The same labels when the connection opens and when it closes, so opened − closed is the open count per series. */
export function tcpLabels(direction: Direction, source: string, destination: string): TcpLabels {
  return { direction, source_service: source, destination_service: destination };
}

export const tcpRecordLabels = (record: TcpRecord): TcpLabels => tcpLabels(record.direction, record.source, record.destination);

/** Which counter a resilience event bumps, and with which labels (the endpoint is left out: instances churn). */
export function resilienceSeries(event: ResilienceEvent): { metric: ResilienceEvent['kind']; labels: Record<string, string> } {
  if (event.kind === 'overflow') return { metric: event.kind, labels: { destination_service: event.service, limit: event.limit } };
  return { metric: event.kind, labels: { destination_service: event.service } };
}

/** Histogram buckets for a mesh hop, in seconds: from 1 ms (a local hop) to a minute (a long call or a stuck timeout). */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
