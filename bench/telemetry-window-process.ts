// One case of the telemetry-window benchmark, in a process of its own run with
// --expose-gc, so its heap figures are its own: feeds the server's window one
// report set a second (virtual time) and measures memory, ingest and reads.
// Usage: node --expose-gc bench/telemetry-window-process.ts CASE SECONDS
//   malicious: one node (one token) sends 2,000 series a second, each with
//              every one of the 386 latency buckets filled;
//   legitimate: 2,000 series with 10 latency buckets each, from 20 nodes of
//              100 series.
// Prints one JSON line.

import { TelemetryWindow } from '../src/control/telemetry/window.ts';
import type { ReportedSeries } from '../src/config/telemetry-report.ts';
import { HISTOGRAM_BUCKETS } from '../src/lib/latency-histogram.ts';

const name = process.argv[2] ?? 'legitimate';
const seconds = Number(process.argv[3] ?? 30);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function report(i0: number, n: number, dense: boolean): ReportedSeries[] {
  return Array.from({ length: n }, (_, j) => {
    const i = i0 + j;
    const latency = dense ? Array.from({ length: HISTOGRAM_BUCKETS }, (_, b) => [b, 1] as [number, number]) : Array.from({ length: 10 }, (_, b) => [100 + b, 1] as [number, number]);
    return { direction: 'inbound' as const, source: `s${i % 50}`, destination: `d${Math.floor(i / 50)}`, requests: 10, successes: 10, latency, tcpOpened: 0, tcpClosed: 0, bytesIn: 0, bytesOut: 0 };
  });
}

const reports: Array<{ node: string; series: ReportedSeries[] }> =
  name === 'malicious' ? [{ node: 'bad-host', series: report(0, 2000, true) }] : Array.from({ length: 20 }, (_, n) => ({ node: `host-${n}`, series: report(n * 100, 100, false) }));

const memory = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const T0 = 1_700_000_000_000;
const w = new TelemetryWindow(T0);
const m0 = memory();
let ingestMs = 0;
let at30 = 0;
for (let s = 0; s < seconds; s++) {
  const t = performance.now();
  for (const r of reports) w.ingest(r.series, T0 + s * 1000 + 500, r.node);
  ingestMs += performance.now() - t;
  if (s === 29) at30 = memory() - m0;
}
const total = memory() - m0;
const now = T0 + seconds * 1000 + 500;
const time = (f: () => unknown) => {
  const t = performance.now();
  f();
  return Math.round((performance.now() - t) * 10) / 10;
};
const MiB = (b: number) => Math.round(b / 2 ** 20);
console.log(JSON.stringify({
  case: name,
  seconds,
  seriesSent: reports.reduce((n, r) => n + r.series.length, 0),
  seriesCounted: w.read(10, now).series.length,
  heapMiBAfter30s: MiB(at30),
  heapMiBAfterAll: MiB(total),
  ingestMsPerSecond: Math.round((ingestMs / seconds) * 10) / 10,
  read10mMs: time(() => w.read(600, now)),
  read10mCachedMs: time(() => w.read(600, now + 100)),
  read1mMs: time(() => w.read(60, now)),
}));
