// Keeps the catalog in step with this host: registers the node and its
// services, heartbeats, pushes check changes, and runs anti-entropy (compare
// the catalog's view of the node with the host's, re-register on any
// difference). A server that lost its catalog, restarted or was away is
// caught up within one heartbeat (a heartbeat for an unknown node) or one
// sync interval (anti-entropy), with no operator action.

import type { Clock, TimerHandle } from '../lib/clock.ts';
import { isMeshError } from '../lib/errors.ts';
import { configDigest, type AgentConfig } from './config/agent-config.ts';
import { checkBody, reconcile, registrations, type CheckState } from './registration.ts';
import type { ServerClient } from './server-client.ts';
import type { ServiceSpec } from './config/service-spec.ts';

export interface SyncStatus {
  serverReachable: boolean;
  /** Whether every service has been registered at least once since the agent started. */
  registered: boolean;
  lastError: string | undefined;
  lastSyncAt: string | undefined;
  lastHeartbeatAt: string | undefined;
  /** configDigest of the config last registered in full. */
  syncedConfig: string | undefined;
}

export class Syncer {
  private config: AgentConfig;
  private readonly client: ServerClient;
  private readonly clock: Clock;
  private readonly checks: ReadonlyMap<string, CheckState>;
  private readonly version: string;
  private readonly log: (line: string) => void;
  /** The agent's own catalog entries (its metrics), kept apart from the config so the config's digest is join's. */
  private readonly own: () => readonly ServiceSpec[];
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private needsFullSync = true;
  private lastAntiEntropy = 0;
  private readonly pendingChecks = new Set<string>();
  private stopped = false;
  readonly status: SyncStatus = { serverReachable: false, registered: false, lastError: undefined, lastSyncAt: undefined, lastHeartbeatAt: undefined, syncedConfig: undefined };

  constructor(options: { config: AgentConfig; client: ServerClient; clock: Clock; checks: ReadonlyMap<string, CheckState>; version: string; log: (line: string) => void; own?: () => readonly ServiceSpec[] }) {
    this.own = options.own ?? (() => []);
    this.config = options.config;
    this.client = options.client;
    this.clock = options.clock;
    this.checks = options.checks;
    this.version = options.version;
    this.log = options.log;
  }

  start(): void {
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** A new config (SIGHUP, or join run again): re-register everything. */
  reload(config: AgentConfig): void {
    this.config = config;
    this.needsFullSync = true;
    this.kick();
  }

  checkChanged(checkId: string): void {
    this.pendingChecks.add(checkId);
    this.kick();
  }

  /** Runs a sync round now (coalesced with one in progress), then keeps the heartbeat rhythm. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      void this.running.then(() => this.kick());
      return;
    }
    this.timer?.cancel();
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = this.clock.after(this.config.heartbeatIntervalMs, () => this.kick());
    });
  }

  private async round(): Promise<void> {
    try {
      if (this.needsFullSync) await this.fullSync();
      else await this.pushChecks();
      const beat = await this.client.heartbeat(this.config.nodeName, 2 * this.config.heartbeatIntervalMs);
      this.status.lastHeartbeatAt = new Date(this.clock.now()).toISOString();
      if (beat === 'unknown-node') {
        this.log('the server does not know this node (its catalog was lost or wiped): registering again');
        await this.fullSync();
        await this.client.heartbeat(this.config.nodeName, 2 * this.config.heartbeatIntervalMs);
      } else if (this.clock.now() - this.lastAntiEntropy >= this.config.syncIntervalMs) {
        await this.antiEntropy();
      }
      if (!this.status.serverReachable) this.log('the server is reachable');
      this.status.serverReachable = true;
      this.status.lastError = undefined;
    } catch (error) {
      const message = isMeshError(error) ? error.message : String(error);
      if (this.status.serverReachable || this.status.lastError !== message) this.log(`sync failed: ${message}`);
      this.status.serverReachable = isMeshError(error) && error.code !== 'MESH_E_SERVER_UNREACHABLE';
      this.status.lastError = message;
      // Whatever was in flight may not have landed: make the next round a full one.
      this.needsFullSync = true;
    }
  }

  private async fullSync(): Promise<void> {
    const node = await this.client.node(this.config.nodeName);
    const own = this.own();
    const bodies = registrations(this.config, this.checks, this.version, own);
    this.pendingChecks.clear();
    for (const body of bodies) await this.client.register(body);
    const wanted = new Set([...this.config.services, ...own].map((s) => s.id));
    for (const id of Object.keys(node?.Services ?? {})) {
      if (!wanted.has(id)) await this.client.deregister({ Node: this.config.nodeName, ServiceID: id });
    }
    // A check dropped from a service that stays (join run again without it) goes too.
    const wantedChecks = new Set(this.config.services.filter((s) => s.check).map((s) => `service:${s.id}`));
    for (const check of node ? await this.client.nodeChecks(this.config.nodeName) : []) {
      if (check.ServiceID !== '' && wanted.has(check.ServiceID) && !wantedChecks.has(check.CheckID)) {
        await this.client.deregister({ Node: this.config.nodeName, CheckID: check.CheckID });
      }
    }
    this.needsFullSync = false;
    this.lastAntiEntropy = this.clock.now();
    this.status.registered = true;
    this.status.syncedConfig = configDigest(this.config);
    this.status.lastSyncAt = new Date(this.clock.now()).toISOString();
  }

  private async pushChecks(): Promise<void> {
    for (const checkId of [...this.pendingChecks]) {
      this.pendingChecks.delete(checkId);
      const spec = this.config.services.find((s) => `service:${s.id}` === checkId);
      const state = this.checks.get(checkId);
      if (!spec?.check || !state) continue;
      await this.client.register({ Node: this.config.nodeName, Address: this.config.advertiseAddr, SkipNodeUpdate: true, Check: checkBody(this.config, spec, state) });
    }
  }

  private async antiEntropy(): Promise<void> {
    this.lastAntiEntropy = this.clock.now();
    const node = await this.client.node(this.config.nodeName);
    const checks = node ? await this.client.nodeChecks(this.config.nodeName) : [];
    const plan = reconcile(this.config, this.checks, node ? { address: node.Node.Address, services: node.Services, checks } : undefined, this.own());
    if (plan.registerAll || plan.deregister.length > 0) {
      this.log('anti-entropy: the catalog differs from this host; registering again');
      await this.fullSync();
    }
  }
}
