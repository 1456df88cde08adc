// Turns the proxy's tracing on, off or over to new settings as the mesh
// config changes (`meshctl config set mesh tracing.*`). A change makes a new
// tracer and hands it to the proxy at once; the old one sends what it has
// queued and stops in the background, so an apply never waits on a collector.

import type { TracingSettings } from '../config/mesh.ts';
import type { HopTracer } from '../proxy/telemetry/hop-context.ts';
import { OtlpHopTracer, type TracerStats } from '../proxy/telemetry/tracer.ts';

export interface StoppableTracer extends HopTracer {
  shutdown(): Promise<void>;
  readonly stats?: TracerStats;
}

export interface TracingSwitchOptions {
  setTracer(tracer: HopTracer | undefined): void;
  node: string;
  random: () => number;
  /** Milliseconds, for the span budget. */
  now: () => number;
  log: (line: string) => void;
  /** Makes the tracer (tests replace it). */
  make?: (settings: Required<TracingSettings>) => StoppableTracer;
}

export class TracingSwitch {
  private readonly options: TracingSwitchOptions;
  private current: { key: string; tracer: StoppableTracer } | undefined;
  private readonly stopping = new Set<Promise<void>>();

  constructor(options: TracingSwitchOptions) {
    this.options = options;
  }

  /** The tracer for these settings: unchanged settings keep the tracer, no endpoint turns tracing off. */
  apply(settings: TracingSettings): void {
    const key = settings.otlp_endpoint ? `${settings.otlp_endpoint} ${settings.sampling} ${settings.max_spans_per_second}` : '';
    if (key === (this.current?.key ?? '')) return;
    const old = this.current;
    if (settings.otlp_endpoint) {
      const wanted = { otlp_endpoint: settings.otlp_endpoint, sampling: settings.sampling, max_spans_per_second: settings.max_spans_per_second };
      const tracer =
        this.options.make?.(wanted) ??
        new OtlpHopTracer({ endpoint: wanted.otlp_endpoint, sampling: wanted.sampling, maxSpansPerSecond: wanted.max_spans_per_second, node: this.options.node, random: this.options.random, now: this.options.now, log: this.options.log });
      this.current = { key, tracer };
      this.options.setTracer(tracer);
      this.options.log(`tracing on: spans to ${wanted.otlp_endpoint}, ${wanted.sampling * 100}% of new traces sampled, at most ${wanted.max_spans_per_second} spans a second`);
    } else {
      this.current = undefined;
      this.options.setTracer(undefined);
      this.options.log('tracing off');
    }
    if (old) this.retire(old.tracer);
  }

  /** What the current tracer did with its spans (since it was made: a settings change starts the counts again); undefined when tracing is off. */
  stats(): TracerStats | undefined {
    return this.current?.tracer.stats;
  }

  /** Tracing off; waits until every tracer has sent what it queued (each bounded in time). */
  async stop(): Promise<void> {
    const last = this.current;
    this.current = undefined;
    this.options.setTracer(undefined);
    if (last) this.retire(last.tracer);
    await Promise.all([...this.stopping]);
  }

  private retire(tracer: StoppableTracer): void {
    const done = tracer.shutdown().catch((error: Error) => this.options.log(`tracing: stopping the old tracer failed: ${error.message}`));
    this.stopping.add(done);
    void done.finally(() => this.stopping.delete(done));
  }
}
