// The last good view of the control plane, kept on disk so that a host
// restarted while the server is away still serves what it last knew.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentStateDir, writeFileAtomic } from './config/agent-config.ts';

export interface UpstreamInstance {
  node: string;
  address: string;
  port: number;
  id: string;
  tags: string[];
  meta: Record<string, string>;
  weight: number;
  status: 'passing' | 'warning' | 'critical';
  /** The port of the proxy in front of it, on the same address (node meta meshctl-inbound-port). */
  inboundPort: number;
}

export interface Snapshot {
  version: 1;
  savedAt: string;
  /** X-Consul-Index of the mesh config; 0 before the first read. */
  configIndex: number;
  config: unknown[];
  upstreams: Record<string, { index: number; instances: UpstreamInstance[] }>;
  /** Transparent mode: every mesh service and its virtual IP (GET /v1/mesh/services). */
  services?: { index: number; vips: Record<string, string> };
}

export const emptySnapshot = (): Snapshot => ({ version: 1, savedAt: '', configIndex: 0, config: [], upstreams: {} });
export const snapshotPath = (dataDir: string): string => join(agentStateDir(dataDir), 'snapshot.json');

/** The saved snapshot, or undefined when there is none or it cannot be read (then the agent waits for the server). */
export function loadSnapshot(dataDir: string): Snapshot | undefined {
  try {
    const parsed = JSON.parse(readFileSync(snapshotPath(dataDir), 'utf8')) as Snapshot;
    if (parsed.version !== 1 || typeof parsed.upstreams !== 'object' || !Array.isArray(parsed.config)) return undefined;
    return parsed;
  } catch {
    return undefined;
  }
}

export function saveSnapshot(dataDir: string, snapshot: Snapshot): void {
  writeFileAtomic(snapshotPath(dataDir), `${JSON.stringify(snapshot)}\n`, 0o600);
}
