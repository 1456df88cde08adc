// Blocking watches on the control plane: the mesh config and the health of
// each upstream (in transparent mode, of every mesh service, whose list and
// virtual IPs are watched too). Each answer replaces its part of the snapshot whole; a
// malformed answer is dropped and the last good one kept. A watch that fails
// retries with capped backoff and never clears what the host already knows.

import { DEFAULT_INBOUND_PORT } from './config/agent-config.ts';
import { INBOUND_PORT_META } from './registration.ts';
import { saveSnapshot, type Snapshot, type UpstreamInstance } from './snapshot.ts';
import type { ServerClient } from './server-client.ts';

export const WATCH_WAIT_MS = 60_000;

interface HealthEntry {
  Node: { Node: string; Address: string; Meta?: Record<string, string> };
  Service: { ID: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string>; Weights?: { Passing: number } };
  Checks: Array<{ Status: string }>;
}

export function instancesFrom(entries: HealthEntry[]): UpstreamInstance[] {
  return entries.map((e) => {
    const statuses = e.Checks.map((c) => c.Status);
    const status = statuses.includes('critical') ? 'critical' : statuses.includes('warning') ? 'warning' : 'passing';
    return {
      node: e.Node.Node,
      address: e.Service.Address || e.Node.Address,
      port: e.Service.Port,
      id: e.Service.ID,
      tags: e.Service.Tags,
      meta: e.Service.Meta,
      weight: e.Service.Weights?.Passing ?? 1,
      status,
      inboundPort: Number(e.Node.Meta?.[INBOUND_PORT_META] ?? DEFAULT_INBOUND_PORT) || DEFAULT_INBOUND_PORT,
    };
  });
}

export class Watcher {
  private readonly client: ServerClient;
  private readonly dataDir: string;
  private readonly abort = new AbortController();
  private readonly onChange: (snapshot: Snapshot) => void;
  /** The services whose health is watched, so a new one in the list starts one watch. */
  private readonly watched = new Set<string>();
  snapshot: Snapshot;

  constructor(options: { client: ServerClient; dataDir: string; snapshot: Snapshot; onChange?: (snapshot: Snapshot) => void }) {
    this.client = options.client;
    this.dataDir = options.dataDir;
    this.snapshot = options.snapshot;
    this.onChange = options.onChange ?? (() => {});
  }

  start(upstreams: readonly string[], options: { allServices?: boolean } = {}): void {
    void this.loop('/mesh/config', () => this.snapshot.configIndex, (index, body) => {
      const entries = (body as { Entries?: unknown }).Entries;
      if (!Array.isArray(entries)) return false;
      this.update({ configIndex: index, config: entries });
      return true;
    });
    for (const name of upstreams) this.watchHealth(name);
    if (!options.allServices) return;
    // Transparent mode: apps may call any service, so every one is watched, and each new one as it appears.
    for (const name of Object.keys(this.snapshot.services?.vips ?? {})) this.watchHealth(name);
    void this.loop('/mesh/services', () => this.snapshot.services?.index ?? 0, (index, body) => {
      if (!Array.isArray(body)) return false;
      const vips: Record<string, string> = {};
      for (const s of body as Array<{ Name?: unknown; VirtualIP?: unknown }>) {
        if (typeof s.Name === 'string' && typeof s.VirtualIP === 'string') vips[s.Name] = s.VirtualIP;
      }
      this.update({ services: { index, vips } });
      for (const name of Object.keys(vips)) this.watchHealth(name);
      return true;
    });
  }

  /** Watches these services' health too (the targets of routes), each from when it is first asked for. */
  ensureWatched(names: Iterable<string>): void {
    for (const name of names) this.watchHealth(name);
  }

  private watchHealth(name: string): void {
    if (this.watched.has(name)) return;
    this.watched.add(name);
    void this.loop(`/health/service/${encodeURIComponent(name)}`, () => this.snapshot.upstreams[name]?.index ?? 0, (index, body) => {
      if (!Array.isArray(body)) return false;
      this.update({ upstreams: { ...this.snapshot.upstreams, [name]: { index, instances: instancesFrom(body as HealthEntry[]) } } });
      return true;
    });
  }

  stop(): void {
    this.abort.abort();
  }

  private update(part: Partial<Snapshot>): void {
    this.snapshot = { ...this.snapshot, ...part, savedAt: new Date().toISOString() };
    saveSnapshot(this.dataDir, this.snapshot);
    this.onChange(this.snapshot);
  }

  private async loop(path: string, currentIndex: () => number, apply: (index: number, body: unknown) => boolean): Promise<void> {
    let failures = 0;
    let index = 0; // the first read is not blocking: it fetches now, whatever the disk had
    while (!this.abort.signal.aborted) {
      try {
        const result = await this.client.blockingGet(path, index, WATCH_WAIT_MS, this.abort.signal);
        failures = 0;
        // Consul's rules: an index that goes backwards (a server that lost its state) resets the watch.
        const next = result.index < index ? 0 : result.index;
        if (result.index !== index || currentIndex() === 0) apply(result.index, result.body);
        index = Math.max(1, next);
      } catch {
        if (this.abort.signal.aborted) return;
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 250 * 2 ** Math.min(failures, 7))).unref());
      }
    }
  }
}
