// One series of traffic counts, as the agent gathers it and the server merges
// it: per (direction, source, destination), requests, successes, a latency
// histogram, TCP connections and bytes. Both sides add series the same way.

import { LatencyHistogram, type SparseHistogram } from './latency-histogram.ts';

export interface SeriesTotals {
  direction: 'inbound' | 'outbound';
  source: string;
  destination: string;
  requests: number;
  successes: number;
  latency: LatencyHistogram;
  tcpOpened: number;
  tcpClosed: number;
  bytesIn: number;
  bytesOut: number;
}

export function emptySeries(direction: 'inbound' | 'outbound', source: string, destination: string): SeriesTotals {
  return { direction, source, destination, requests: 0, successes: 0, latency: new LatencyHistogram(), tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 };
}

/** Adds `from`'s counts and histogram (a live one, or a report's sparse one) into `into`. */
export function addSeries(into: SeriesTotals, from: Omit<SeriesTotals, 'latency'> & { latency: LatencyHistogram | SparseHistogram }): void {
  into.requests += from.requests;
  into.successes += from.successes;
  into.latency.merge(from.latency);
  into.tcpOpened += from.tcpOpened;
  into.tcpClosed += from.tcpClosed;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
}
