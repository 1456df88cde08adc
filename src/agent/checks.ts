// The host's health checks: HTTP and TCP probes on their interval, TTL checks
// that go critical unless the app refreshes them through the admin API. Every
// status change is reported to onChange; the sync loop sends it to the server.
// The clock and the probes are injected, so tests run without waiting.

import type { Clock, TimerHandle } from '../lib/clock.ts';
import { probeHttp, probeTcp, type HealthStatus, type ProbeResult } from '../lib/probes.ts';
import type { CheckSpec, ServiceSpec } from './config/service-spec.ts';
import { checkIdOf, type CheckState } from './registration.ts';

export type Probe = (check: CheckSpec) => Promise<ProbeResult>;

export const defaultProbe: Probe = (check) => {
  if (check.kind === 'http') return probeHttp({ url: check.url, timeoutMs: check.timeoutMs });
  if (check.kind === 'tcp') return probeTcp(check.address, check.timeoutMs);
  return Promise.resolve({ status: 'critical', output: 'TTL checks are not probed' });
};

export class CheckRunner {
  readonly states = new Map<string, CheckState>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly clock: Clock;
  private readonly probe: Probe;
  private readonly onChange: (checkId: string, state: CheckState) => void;
  private specs = new Map<string, ServiceSpec>();
  private stopped = false;

  constructor(options: { clock: Clock; probe?: Probe; onChange: (checkId: string, state: CheckState) => void }) {
    this.clock = options.clock;
    this.probe = options.probe ?? defaultProbe;
    this.onChange = options.onChange;
  }

  /** Starts (or, after a reload, updates) the checks of these services. */
  run(services: readonly ServiceSpec[]): void {
    const next = new Map(services.filter((s) => s.check).map((s) => [checkIdOf(s), s]));
    for (const [id, timer] of this.timers) {
      const old = this.specs.get(id);
      const now = next.get(id);
      if (!now || JSON.stringify(old?.check) !== JSON.stringify(now.check)) {
        timer.cancel();
        this.timers.delete(id);
        if (!now) this.states.delete(id);
      }
    }
    this.specs = next;
    for (const [id, spec] of next) {
      if (this.timers.has(id)) continue;
      const check = spec.check as CheckSpec;
      // Consul starts every check critical until it has passed once.
      if (!this.states.has(id)) this.states.set(id, { status: 'critical', output: check.kind === 'ttl' ? 'TTL check not yet passed' : 'not yet probed' });
      if (check.kind === 'ttl') this.armTtl(id, check.ttlMs);
      else this.schedule(id, 0);
    }
  }

  /** A TTL refresh from the app (PUT /v1/agent/check/pass|warn|fail/:id on the admin API). */
  updateTtl(checkId: string, status: HealthStatus, output: string): boolean {
    const spec = this.specs.get(checkId);
    if (!spec || spec.check?.kind !== 'ttl') return false;
    this.set(checkId, { status, output });
    this.armTtl(checkId, spec.check.ttlMs);
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  private armTtl(id: string, ttlMs: number): void {
    this.timers.get(id)?.cancel();
    this.timers.set(id, this.clock.after(ttlMs, () => this.set(id, { status: 'critical', output: 'TTL expired' })));
  }

  private schedule(id: string, delayMs: number): void {
    this.timers.set(
      id,
      this.clock.after(delayMs, () => {
        const spec = this.specs.get(id);
        if (!spec?.check || this.stopped) return;
        const check = spec.check;
        void this.probe(check).then((result) => {
          // A reload replaces the spec objects; only a changed or removed check stops here.
          if (this.stopped || JSON.stringify(this.specs.get(id)?.check) !== JSON.stringify(check)) return;
          this.set(id, { status: result.status, output: result.output });
          if (check.kind !== 'ttl') this.schedule(id, check.intervalMs);
        });
      }),
    );
  }

  private set(id: string, state: CheckState): void {
    const previous = this.states.get(id);
    this.states.set(id, state);
    if (previous?.status !== state.status) this.onChange(id, state);
  }
}
