// One case of the telemetry-sinks benchmark, in a process of its own (so each
// sink's JIT state and heap are its own): feeds WARMUP records, then N more,
// to one sink (or the agent's whole fan-out) and prints one JSON line with the
// CPU time per record of the N. Run under callgrind by telemetry-sinks.ts,
// where two runs with different N give instructions per record.
// Usage: node bench/telemetry-sinks-process.ts CASE N [WARMUP]
//   metrics | summary | tap | access-log | fanout (tap, summary, metrics, access log, in the agent's order)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { MetricsSink } from '../src/agent/telemetry/metrics.ts';
import { SummarySink } from '../src/agent/telemetry/summary.ts';
import { TapSink } from '../src/agent/telemetry/tap.ts';
import { attachAccessLog } from '../src/agent/telemetry/access-log-file.ts';
import { systemClock } from '../src/lib/clock.ts';
import { Telemetry, type HttpRecord, type TelemetrySink } from '../src/proxy/telemetry/records.ts';

export const CASES = ['metrics', 'summary', 'tap', 'access-log', 'fanout'] as const;

/**
 * A fixed mix like a busy host's: 4 callers × 6 services × 3 routes, mostly 200s with some
 * 404/503s, both directions, latencies from 0.3 ms to 3 s (every bucket, edges included), and
 * one mesh failure in 64. Built the way proxy.ts builds them (spreads), so the objects' shapes match.
 */
function records(): HttpRecord[] {
  const out: HttpRecord[] = [];
  const statuses = [200, 200, 200, 200, 200, 201, 404, 503];
  const durations = [0.3, 0.9, 1, 2, 2.5, 4, 7, 12, 30, 48, 80, 140, 300, 700, 1800, 3000];
  for (let i = 0; i < 1024; i++) {
    const direction = i % 2 === 0 ? 'outbound' : 'inbound';
    const base = {
      direction,
      protocol: 'http',
      source: `caller-${i % 4}`,
      destination: `service-${(i >> 2) % 6}`,
      ...(direction === 'outbound' && i % 3 !== 0 ? { route: `route-${i % 3}` } : {}),
      endpoint: `10.0.${i % 6}.${(i >> 3) % 8}:8080`,
      method: 'GET',
      path: `/items/${i}?page=2`,
      status: statuses[i % statuses.length] as number,
      mtls: true,
      startedAt: 1_700_000_000_000 + i,
      durationMs: durations[i % durations.length] as number,
      requestBytes: 0,
      responseBytes: 512,
      ...(direction === 'outbound' ? { attempts: 1 } : {}),
      ...(i % 64 === 5 ? { failure: { cause: 'upstream_timeout', hop: direction, policy: 'timeout', detail: 'no answer in 3000 ms' } } : {}),
    } as Omit<HttpRecord, 'requestId'>;
    out.push({ ...base, requestId: `req-${i.toString(16).padStart(8, '0')}`, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' } as HttpRecord);
  }
  return out;
}

const readings = { certificates: () => [], configVersion: () => 0 };

interface Case {
  deliver: (r: HttpRecord) => void;
  /** Between two batches: the access log's cases wait for its writes (a busy proxy writes ~5 MB/s; the disk keeps up). */
  pause: () => Promise<unknown>;
  /** Lines the access log dropped (its buffer full): a run that drops measured less than the real work. */
  dropped: () => number;
  close: () => Promise<void>;
}

async function sinkOf(name: string, dir: string): Promise<Case> {
  const single = (sink: TelemetrySink): Case => ({ deliver: (r) => sink.http?.(r), pause: () => turn(), dropped: () => 0, close: async () => {} });
  if (name === 'metrics') return single(new MetricsSink(readings));
  if (name === 'summary') return single(new SummarySink(systemClock));
  if (name === 'tap') return single(new TapSink({ clock: systemClock }));
  const telemetry = new Telemetry((line) => console.error(line));
  if (name === 'fanout') {
    telemetry.add(new TapSink({ clock: systemClock }));
    telemetry.add(new SummarySink(systemClock));
    telemetry.add(new MetricsSink(readings));
  } else if (name !== 'access-log') {
    throw new Error(`unknown case "${name}"; known: ${CASES.join(', ')}`);
  }
  const file = await attachAccessLog({ dataDir: dir, accessLog: { path: join(dir, 'access.log'), maxBytes: 1 << 30, keep: 1 } }, telemetry, (line) => console.error(line));
  if (!file) throw new Error('the access log did not open');
  return { deliver: (r) => telemetry.http(r), pause: () => sleep(1), dropped: () => file.dropped, close: () => file.close() };
}

/** Feeds `n` records in batches, letting the event loop turn between them (the access log writes then, as it would between requests). */
async function feed({ deliver, pause }: Case, all: HttpRecord[], n: number): Promise<number> {
  const BATCH = 64;
  let cpuMicros = 0;
  for (let done = 0; done < n; done += BATCH) {
    const count = Math.min(BATCH, n - done);
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) deliver(all[(done + i) & 1023] as HttpRecord);
    const used = process.cpuUsage(before);
    cpuMicros += used.user + used.system;
    await pause();
  }
  return cpuMicros;
}

async function run(name: string, n: number, warmup: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-sinks-'));
  try {
    const all = records();
    const sink = await sinkOf(name, dir);
    await feed(sink, all, warmup);
    const cpuMicros = await feed(sink, all, n);
    const dropped = sink.dropped();
    await sink.close();
    if (dropped > 0) throw new Error(`the access log dropped ${dropped} lines: the figure would undercount its work`);
    console.log(JSON.stringify({ case: name, records: n, nsPerRecord: Math.round((cpuMicros * 1000) / Math.max(n, 1)) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await run(process.argv[2] ?? 'metrics', Number(process.argv[3] ?? 1_000_000), Number(process.argv[4] ?? 200_000));
