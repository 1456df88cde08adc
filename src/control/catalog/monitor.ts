// The server's health machinery, the side-effect edge around the catalog:
//  - TTL checks (any node's: node heartbeats are TTL checks too) go critical
//    when nobody refreshes them in time;
//  - HTTP and TCP checks registered through /v1/agent on the server's own node
//    are run here, as a Consul agent runs its local checks;
//  - a reaper removes services whose check has been critical for longer than
//    its DeregisterCriticalServiceAfter.
// Time comes from the injected clock, so all of it is tested without waiting.

import { parseGoDuration } from '../../lib/duration.ts';
import type { Clock, TimerHandle } from '../../lib/clock.ts';
import { probeHttp, probeTcp, type ProbeResult } from '../../lib/probes.ts';
import type { Store } from '../store/store.ts';
import { getCheck, listAllChecks, removeService, setCheckStatus } from './catalog.ts';
import { checkKey } from './keys.ts';
import type { CheckRecord } from './types.ts';

export interface MonitorOptions {
  store: Store;
  clock: Clock;
  /** The server's own node: its HTTP/TCP checks are run here. */
  nodeName: string;
  /** How often the reaper looks for long-critical services (Consul: 30 s). */
  reapIntervalMs?: number;
  onError?: (error: unknown) => void;
  /** Replaceable in tests. */
  probe?: (check: CheckRecord) => Promise<ProbeResult>;
}

const TTL_EXPIRED = 'TTL expired';

export class HealthMonitor {
  private readonly options: MonitorOptions;
  private readonly ttlTimers = new Map<string, TimerHandle>();
  private readonly probeTimers = new Map<string, TimerHandle>();
  private readonly criticalSince = new Map<string, number>();
  private reapTimer: TimerHandle | undefined;
  private stopped = false;
  private reaping = false;

  constructor(options: MonitorOptions) {
    this.options = options;
  }

  /** Arms every stored TTL and local check; after a restart their clocks start afresh, as Consul's do. */
  start(): void {
    for (const entry of listAllChecks(this.options.store)) this.track(entry.value);
    this.scheduleReap();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of [...this.ttlTimers.values(), ...this.probeTimers.values()]) timer.cancel();
    this.ttlTimers.clear();
    this.probeTimers.clear();
    this.reapTimer?.cancel();
  }

  /** Call after a check is registered or refreshed (a TTL pass resets its clock). */
  track(check: CheckRecord): void {
    if (this.stopped) return;
    const key = checkKey(check.Node, check.CheckID);
    const ttl = check.Definition.TTL ? parseGoDuration(check.Definition.TTL) : undefined;
    if (ttl !== undefined && ttl > 0) {
      this.ttlTimers.get(key)?.cancel();
      this.ttlTimers.set(key, this.options.clock.after(ttl, () => this.expire(check.Node, check.CheckID)));
    }
    if (check.Node === this.options.nodeName && (check.Type === 'http' || check.Type === 'tcp') && !this.probeTimers.has(key)) {
      this.scheduleProbe(check.Node, check.CheckID, 0);
    }
  }

  /** Call after a check is removed. */
  untrack(node: string, checkId: string): void {
    const key = checkKey(node, checkId);
    this.ttlTimers.get(key)?.cancel();
    this.ttlTimers.delete(key);
    this.probeTimers.get(key)?.cancel();
    this.probeTimers.delete(key);
    this.criticalSince.delete(key);
  }

  private expire(node: string, checkId: string): void {
    this.ttlTimers.delete(checkKey(node, checkId));
    this.options.store
      .transact((txn) => {
        const check = getCheck(txn, node, checkId);
        if (!check || check.value.Status === 'critical') return;
        const last = check.value.Output;
        setCheckStatus(txn, node, checkId, 'critical', last ? `${TTL_EXPIRED} (last output before timeout follows): ${last}` : TTL_EXPIRED);
      })
      .catch((error) => this.options.onError?.(error));
  }

  private scheduleProbe(node: string, checkId: string, delayMs: number): void {
    const key = checkKey(node, checkId);
    this.probeTimers.set(key, this.options.clock.after(delayMs, () => void this.runProbe(node, checkId)));
  }

  private async runProbe(node: string, checkId: string): Promise<void> {
    const entry = getCheck(this.options.store, node, checkId);
    if (!entry || this.stopped) {
      this.probeTimers.delete(checkKey(node, checkId));
      return;
    }
    const check = entry.value;
    const result = await (this.options.probe ?? defaultProbe)(check);
    try {
      await this.options.store.transact((txn) => setCheckStatus(txn, node, checkId, result.status, result.output));
    } catch (error) {
      this.options.onError?.(error);
    }
    if (this.stopped || !getCheck(this.options.store, node, checkId)) return;
    this.scheduleProbe(node, checkId, parseGoDuration(check.Definition.Interval ?? '10s') ?? 10_000);
  }

  private scheduleReap(): void {
    if (this.stopped) return;
    this.reapTimer = this.options.clock.after(this.options.reapIntervalMs ?? 30_000, () => {
      // Fixed rate: the next pass is due whether or not this one has finished.
      this.scheduleReap();
      if (this.reaping) return;
      this.reaping = true;
      this.reap()
        .catch((error) => this.options.onError?.(error))
        .finally(() => (this.reaping = false));
    });
  }

  /** One reaper pass; public so tests can drive it. */
  async reap(): Promise<void> {
    const now = this.options.clock.now();
    const doomed: Array<{ node: string; serviceId: string }> = [];
    const seen = new Set<string>();
    for (const entry of listAllChecks(this.options.store)) {
      const check = entry.value;
      const after = check.Definition.DeregisterCriticalServiceAfter;
      if (!after || check.ServiceID === '') continue;
      const key = entry.key;
      seen.add(key);
      if (check.Status !== 'critical') {
        this.criticalSince.delete(key);
        continue;
      }
      const since = this.criticalSince.get(key) ?? now;
      this.criticalSince.set(key, since);
      if (now - since >= (parseGoDuration(after) ?? Infinity)) doomed.push({ node: check.Node, serviceId: check.ServiceID });
    }
    for (const key of this.criticalSince.keys()) if (!seen.has(key)) this.criticalSince.delete(key);
    if (doomed.length === 0) return;
    await this.options.store.transact((txn) => {
      for (const { node, serviceId } of doomed) removeService(txn, node, serviceId);
    });
  }
}

function defaultProbe(check: CheckRecord): Promise<ProbeResult> {
  const timeoutMs = parseGoDuration(check.Definition.Timeout ?? '10s') ?? 10_000;
  if (check.Type === 'tcp') return probeTcp(check.Definition.TCP ?? '', timeoutMs);
  return probeHttp({
    url: check.Definition.HTTP ?? '',
    timeoutMs,
    ...(check.Definition.Method ? { method: check.Definition.Method } : {}),
    ...(check.Definition.Header ? { headers: check.Definition.Header } : {}),
    ...(check.Definition.Body ? { body: check.Definition.Body } : {}),
    ...(check.Definition.TLSSkipVerify ? { tlsSkipVerify: true } : {}),
  });
}
