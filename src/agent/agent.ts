// `meshctl agent`: the host agent, assembled. Starts from the last snapshot on
// disk (so a host restarted while the server is away still serves what it
// knew), runs the checks, keeps the catalog in step, watches the control
// plane and serves the admin API. SIGTERM stops it without deregistering:
// only `meshctl leave` deregisters.

import type { Server } from 'node:http';
import { systemClock, type Clock } from '../lib/clock.ts';
import { MeshError } from '../lib/errors.ts';
import { createAdminServer } from './admin-api.ts';
import { CheckRunner, type Probe } from './checks.ts';
import { listenAddrOf, writeFileAtomic, type AgentConfig } from './config/agent-config.ts';
import { joinHostPort } from '../lib/net/host-port.ts';
import { adminAddrPath } from './admin-addr.ts';
import { callerOf, describeCheck } from './config/service-spec.ts';
import { checkIdOf } from './registration.ts';
import { ServerClient } from './server-client.ts';
import { emptySnapshot, loadSnapshot } from './snapshot.ts';
import { Syncer } from './sync.ts';
import { Watcher } from './watch.ts';
import { CertManager } from './certs/manager.ts';
import { Proxy, type ProxyConfig } from '../proxy/proxy.ts';
import { serviceDefaultsSchema } from '../config/service-defaults.ts';
import type { ZodError } from 'zod';
import { intentionsSchema, type StoredIntentions } from '../config/intentions.ts';
import { compileIntentions, type IntentionEntry } from '../config/intention-table.ts';
import { MESH_ENTRY_NAME, meshSchema, withMeshDefaults, type StoredMesh } from '../config/mesh.ts';
import { RESOLVER_KIND, ROUTER_KIND } from '../config/routes.ts';
import { compileRoutes } from '../config/route-table.ts';
import { describeFieldErrors } from '../config/kind.ts';
import { describeZodIssues } from '../config/describe.ts';
import type { Snapshot } from './snapshot.ts';
import { systemRandom } from '../lib/clock.ts';
import { MeshDns } from '../dns/mesh-dns.ts';
import { enterTransparentMode } from './transparent.ts';
import { upstreamResolvers } from '../dns/resolv-conf.ts';
import { TracingSwitch } from './tracing.ts';
import { MetricsSink } from './telemetry/metrics.ts';
import { startMetricsServer, type MetricsServer } from './telemetry/metrics-server.ts';
import { agentServiceSpec } from './registration.ts';
import { DEFAULT_METRICS_PORT } from '../config/agent-service.ts';
import { TapSink } from './telemetry/tap.ts';
import { TapRunner } from './telemetry/tap-runner.ts';
import { SummarySink } from './telemetry/summary.ts';
import { TelemetryReporter } from './telemetry/reporter.ts';
import { attachAccessLog, type AccessLogFile } from './telemetry/access-log-file.ts';

export interface AgentOptions {
  config: AgentConfig;
  version: string;
  clock?: Clock;
  probe?: Probe;
  log?: (line: string) => void;
}

export class Agent {
  private config: AgentConfig;
  private readonly version: string;
  private readonly log: (line: string) => void;
  private readonly client: ServerClient;
  private readonly checks: CheckRunner;
  private readonly syncer: Syncer;
  private watcher: Watcher;
  private readonly proxy: Proxy;
  /** The proxy's tracer, following the mesh entry's tracing settings. */
  private readonly tracing: TracingSwitch;
  private readonly goodDefaults = new Map<string, unknown>();
  /** The last entry of each kind and name this build could read: a bad one never replaces a good one. */
  private readonly goodEntries = new Map<string, unknown>();
  private readonly certs: CertManager;
  /** Transparent mode: <service>.mesh and <service>.service.consul, answered with each service's VIP. */
  private dns: MeshDns | undefined;
  private readonly clock: Clock;
  private admin: Server | undefined;
  private readonly startedAt = new Date().toISOString();
  private readonly snapshotSource: 'disk' | 'none';
  /** Prometheus metrics: the proxy's records, counted; served on the metrics port. */
  private readonly metrics: MetricsSink;
  private metricsServer: MetricsServer | undefined;
  /** The config version of the snapshot the proxy last applied (not merely received). */
  private appliedConfigVersion = 0;
  /** meshctl tap: sessions polled from the server, sampled events sent back while one is open. */
  private readonly tap: TapRunner;
  /** The traffic summary the control plane's `meshctl stat` reads, sent every second. */
  private readonly telemetryReporter: TelemetryReporter;
  /** The JSON access log (issue 8); undefined when join said --access-log off. */
  private accessLog: AccessLogFile | undefined;

  constructor(options: AgentOptions) {
    this.config = options.config;
    this.version = options.version;
    this.log = options.log ?? (() => {});
    const clock = options.clock ?? systemClock;
    this.clock = clock;
    this.client = new ServerClient(this.config.server, this.config.token, {
      // Read per connection: the roots watch replaces the join-time roots after a rotation.
      roots: () => this.certs.trust()?.rootsPem ?? this.config.serverCaPem ?? [],
      insecureSkipVerify: this.config.insecureSkipVerify === true,
      clientCertificate: () => this.certs.leavesPem().values().next().value,
    });
    this.checks = new CheckRunner({ clock, ...(options.probe ? { probe: options.probe } : {}), onChange: (id, state) => {
      this.log(`check ${id} is now ${state.status}${state.output ? `: ${state.output.slice(0, 200)}` : ''}`);
      this.syncer.checkChanged(id);
    } });
    this.syncer = new Syncer({
      config: this.config, client: this.client, clock, checks: this.checks.states, version: this.version, log: this.log,
      // Registered once the metrics port is bound (with port 0, the catalog must carry the one picked).
      own: () => (this.metricsServer ? [agentServiceSpec(this.config, this.metricsServer.port, this.version)] : []),
    });
    const saved = loadSnapshot(this.config.dataDir);
    this.snapshotSource = saved ? 'disk' : 'none';
    if (saved) this.log(`loaded the last snapshot from disk (saved ${saved.savedAt}, config version ${saved.configIndex})`);
    const inbound = listenAddrOf(this.config.inboundAddr);
    this.proxy = new Proxy({
      inboundHost: inbound.host,
      inboundPort: inbound.port,
      ...(this.config.transparent ? { outboundPort: this.config.transparent.outboundPort } : {}),
      clock,
      random: systemRandom,
      log: this.log,
      onMeshError: (line) => this.log(`mesh error ${line}`),
    });
    this.tracing = new TracingSwitch({ setTracer: (tracer) => this.proxy.setTracer(tracer), node: this.config.nodeName, random: systemRandom, now: () => clock.now(), log: this.log });
    const tapSink = new TapSink({ clock });
    this.proxy.telemetry.add(tapSink);
    this.tap = new TapRunner({ sink: tapSink, server: this.client, node: this.config.nodeName, clock, log: this.log });
    const summary = new SummarySink(clock);
    this.proxy.telemetry.add(summary);
    this.telemetryReporter = new TelemetryReporter({ node: this.config.nodeName, summary, clock, send: (report) => this.client.reportTelemetry(report), log: this.log });
    this.watcher = this.makeWatcher(saved ?? emptySnapshot());
    this.metrics = new MetricsSink({
      certificates: () => this.certs.status().filter((c) => c.notAfter !== '').map((c) => ({ service: c.service, notAfter: Date.parse(c.notAfter) })),
      configVersion: () => this.appliedConfigVersion,
      spans: () => this.tracing.stats(),
    });
    this.proxy.telemetry.add(this.metrics);
    this.certs = new CertManager({
      dataDir: this.config.dataDir,
      client: { roots: () => this.client.caRoots(), sign: (csr) => this.client.signCsr(csr), watchRoots: (index, waitMs, signal) => this.client.watchCaRoots(index, waitMs, signal) },
      clock,
      random: systemRandom,
      log: this.log,
      onChange: () => this.applyCertificates(),
    });
  }

  /** The proxy takes the roots and every leaf again: new handshakes use them, open connections keep theirs. */
  private applyCertificates(): void {
    const trust = this.certs.trust();
    if (trust) this.proxy.updateCertificates(trust, this.certs.leavesPem());
  }

  private makeWatcher(snapshot: Snapshot): Watcher {
    return new Watcher({ client: this.client, dataDir: this.config.dataDir, snapshot, onChange: (next) => this.applyProxy(next) });
  }

  /** What the proxy should do, from the config and the latest snapshot. */
  private proxyConfig(snapshot: Snapshot): ProxyConfig {
    const serviceDefaults = new Map<string, unknown>();
    for (const entry of snapshot.config as Array<{ Kind?: string; Name?: string; Config?: unknown }>) {
      if (entry.Kind !== 'service-defaults' || !entry.Name) continue;
      // The server validates too; an entry this build cannot read keeps the last good one for that service.
      const parsed = serviceDefaultsSchema.safeParse(entry.Config ?? {});
      if (parsed.success) {
        serviceDefaults.set(entry.Name, parsed.data);
        this.goodDefaults.set(entry.Name, parsed.data);
      } else {
        this.log(`service-defaults ${entry.Name} rejected, keeping the last good one: ${describeZodIssues(parsed.error)}`);
        if (this.goodDefaults.has(entry.Name)) serviceDefaults.set(entry.Name, this.goodDefaults.get(entry.Name));
      }
    }
    const intentionEntries: IntentionEntry[] = [];
    const routerEntries: Array<{ Name: string; Config: unknown }> = [];
    const resolverEntries: Array<{ Name: string; Config: unknown }> = [];
    let mesh: StoredMesh | undefined;
    for (const entry of snapshot.config as Array<{ Kind?: string; Name?: string; Config?: unknown }>) {
      if (!entry.Name) continue;
      if (entry.Kind === 'service-intentions') {
        const config = this.lastGood(entry.Kind, entry.Name, intentionsSchema.safeParse(entry.Config ?? {}));
        // An entry this build cannot read, and never could, denies its destination: intentions fail closed.
        intentionEntries.push({ Name: entry.Name, Config: (config as StoredIntentions | undefined) ?? { Sources: [{ Name: '*', Action: 'deny' }] } });
      } else if (entry.Kind === ROUTER_KIND) {
        routerEntries.push({ Name: entry.Name, Config: entry.Config });
      } else if (entry.Kind === RESOLVER_KIND) {
        resolverEntries.push({ Name: entry.Name, Config: entry.Config });
      } else if (entry.Kind === 'mesh' && entry.Name === MESH_ENTRY_NAME) {
        mesh = this.lastGood(entry.Kind, entry.Name, meshSchema.safeParse(entry.Config ?? {})) as StoredMesh | undefined;
      }
    }
    // Transparent mode: every mesh service is an upstream, reached through iptables rather than a local port.
    const vips = this.config.transparent ? (snapshot.services?.vips ?? {}) : {};
    const upstreams = this.config.upstreams.map((u) => ({ service: u.name, localPort: u.localPort, caller: callerOf(this.config.services, u, this.config.identity) }));
    const named = new Set(upstreams.map((u) => u.service));
    for (const service of Object.keys(vips)) {
      if (!named.has(service)) upstreams.push({ service, localPort: 0, caller: callerOf(this.config.services, {}, this.config.identity) });
    }
    // An entry this build cannot read is left out (its destination is routed as without routes) and logged.
    const routes = compileRoutes(routerEntries, resolverEntries, { onInvalid: (kind, name, errors) => this.log(`${kind} ${name} ignored: ${describeFieldErrors(errors)}`) });
    // Routes may send to other services, which must be watched and known to the proxy too.
    // Only the routes of this host's upstreams matter here: other destinations' targets are not watched.
    const mine = new Set(upstreams.map((u) => u.service));
    const routed = new Set(routes.destinations().filter((d) => mine.has(d)).flatMap((d) => routes.routes(d).flatMap((r) => [...r.targets.map((t) => t.service), ...(r.mirror ? [r.mirror.service] : [])])));
    this.watcher?.ensureWatched(routed);
    const instances = new Map(
      [...new Set([...upstreams.map((u) => u.service), ...routed])].map((service) => [
        service,
        (snapshot.upstreams[service]?.instances ?? []).filter((i) => i.status === 'passing').map((i) => ({ node: i.node, id: i.id, address: i.address, port: i.port, weight: i.weight, inboundPort: i.inboundPort, tags: i.tags, meta: i.meta })),
      ]),
    );
    const meshSettings = withMeshDefaults(mesh);
    this.tracing.apply(meshSettings.tracing);
    return {
      upstreams,
      instances,
      transparent: this.config.transparent ? { vips: new Map(Object.entries(vips).map(([service, vip]) => [vip, service])), passthrough: meshSettings.outbound_policy === 'allow_any' } : undefined,
      serviceDefaults,
      intentions: compileIntentions(intentionEntries, meshSettings.default_policy),
      routes,
      local: this.config.services.map((s) => ({ id: s.id, name: s.name, port: s.port })),
    };
  }

  /** A parsed entry, remembered; an entry this build cannot read keeps the last good one of that kind and name. */
  private lastGood(kind: string, name: string, parsed: { success: true; data: unknown } | { success: false; error: ZodError }): unknown {
    const key = `${kind}/${name}`;
    if (parsed.success) {
      this.goodEntries.set(key, parsed.data);
      return parsed.data;
    }
    this.log(`${kind} ${name} rejected, keeping the last good one: ${describeZodIssues(parsed.error)}`);
    return this.goodEntries.get(key);
  }

  private applyProxy(snapshot: Snapshot): void {
    if (this.dns && snapshot.services) this.dns.setRecords(new Map(Object.entries(snapshot.services.vips)));
    this.proxy.apply(this.proxyConfig(snapshot)).then(() => {
      this.appliedConfigVersion = snapshot.configIndex;
    }).catch((error) => this.log(`proxy: could not apply the new config, keeping the last one: ${(error as Error).message}`));
  }

  /**
   * Starts every part; a part that cannot start (a port taken, an access log
   * it cannot write) stops the ones already running and rejects, so the
   * process exits with that error rather than living on half-started.
   */
  async start(): Promise<void> {
    try {
      await this.startParts();
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  private async startParts(): Promise<void> {
    // First, as root: the rules (again after a reboot), then the drop to the proxy user for good.
    if (this.config.transparent) await enterTransparentMode(this.config, this.log);
    // After the drop, so the files are the proxy user's; before the proxy carries its first request.
    this.accessLog = await attachAccessLog(this.config, this.proxy.telemetry, this.log);
    const { host, port } = listenAddrOf(this.config.adminAddr);
    this.admin = createAdminServer({
      status: () => this.statusReport(),
      configDump: () => ({ config: { ...this.config, token: '<redacted>' }, snapshot: this.watcher.snapshot }),
      ready: () => this.readiness(),
      updateTtl: (id, status, note) => this.checks.updateTtl(id, status, note),
    });
    const admin = this.admin;
    await new Promise<void>((resolve, reject) => {
      admin.once('error', (error: NodeJS.ErrnoException) =>
        reject(new MeshError('MESH_E_USAGE', `the agent cannot listen on ${this.config.adminAddr}: ${error.code ?? error.message}`, { hint: 'another agent may use it: join with --admin-addr HOST:PORT' })),
      );
      admin.listen(port, host, () => resolve());
    });
    // With port 0 the kernel picks one; status and join find it in the data dir.
    const bound = admin.address() as { address: string; port: number };
    writeFileAtomic(adminAddrPath(this.config.dataDir), `${joinHostPort(bound.address, bound.port)}\n`, 0o600);
    await this.proxy.start().catch((error: NodeJS.ErrnoException) => {
      throw new MeshError('MESH_E_USAGE', `the proxy cannot listen on ${this.config.inboundAddr}: ${error.code ?? error.message}`, { hint: 'another agent may use it: join with --inbound-addr HOST:PORT' });
    });
    if (this.config.transparent) await this.startDns(this.config.transparent.dnsPort);
    await this.proxy.apply(this.proxyConfig(this.watcher.snapshot));
    this.appliedConfigVersion = this.watcher.snapshot.configIndex;
    await this.startMetrics();
    this.checks.run(this.config.services);
    this.certs.start(this.config.services.map((s) => s.name));
    this.syncer.start();
    this.tap.start();
    this.telemetryReporter.start();
    this.watcher.start(this.config.upstreams.map((u) => u.name), { allServices: this.config.transparent !== undefined });
    this.log(`agent for node ${this.config.nodeName} started: server ${this.config.server}, admin API on ${this.config.adminAddr}, metrics on port ${this.metricsServer?.port}, ${this.config.services.length} service(s)`);
  }

  /** Applies a rewritten config (SIGHUP). The admin address is fixed for the life of the process. */
  reload(config: AgentConfig): void {
    this.config = config;
    this.checks.run(config.services);
    this.certs.start(config.services.map((s) => s.name));
    this.syncer.reload(config);
    this.watcher.stop();
    this.watcher = this.makeWatcher(this.watcher.snapshot);
    this.applyProxy(this.watcher.snapshot);
    this.watcher.start(config.upstreams.map((u) => u.name), { allServices: config.transparent !== undefined });
    this.log('config reloaded');
  }

  /** The metrics port, on the loopback and on the address other hosts (and their Prometheus) reach this one at. */
  private async startMetrics(): Promise<void> {
    const port = this.config.metricsPort ?? DEFAULT_METRICS_PORT;
    this.metricsServer = await startMetricsServer(this.metrics, ['127.0.0.1', this.config.advertiseAddr], port, this.log).catch((error: NodeJS.ErrnoException) => {
      throw new MeshError('MESH_E_USAGE', `the agent cannot serve metrics on port ${port} (127.0.0.1 and ${this.config.advertiseAddr}): ${error.code ?? error.message}`, { hint: 'another agent may use it: join with --metrics-port PORT' });
    });
  }

  /** The mesh DNS, forwarding every other name to the resolvers the host had (read before any redirect applies). */
  private async startDns(port: number): Promise<void> {
    // The host's real resolvers: past a local stub (systemd-resolved), whose own lookups would be redirected back here.
    this.dns = new MeshDns({ upstreams: await upstreamResolvers(), log: this.log, clock: this.clock, random: systemRandom });
    const snapshot = this.watcher.snapshot;
    if (snapshot.services) this.dns.setRecords(new Map(Object.entries(snapshot.services.vips)));
    // ip6tables' REDIRECT delivers to ::1, iptables' to 127.0.0.1.
    await this.dns.start({ hosts: ['127.0.0.1', '::1'], port }).catch((error: Error) => {
      throw new MeshError('MESH_E_USAGE', `the mesh DNS cannot listen on port ${port}: ${error.message}`, { hint: 'another agent may use it: join with another --dns-port' });
    });
  }

  async stop(): Promise<void> {
    await this.dns?.stop();
    this.syncer.stop();
    this.tap.stop();
    this.telemetryReporter.stop();
    this.checks.stop();
    this.watcher.stop();
    this.certs.stop();
    await this.proxy.stop();
    // After the proxy: the last second of counts, the requests its stop cut short included (at most 1 s).
    await this.telemetryReporter.flush();
    // After the proxy: the spans of the last requests are queued, and go out before the agent exits.
    await this.tracing.stop();
    await this.metricsServer?.close();
    // After the proxy: the records of requests cut short by its stop are written too.
    await this.accessLog?.close();
    this.client.close();
    const admin = this.admin;
    if (admin) await new Promise<void>((resolve) => {
      admin.close(() => resolve());
      admin.closeAllConnections();
    });
  }

  private readiness(): { ready: boolean; reason: string } {
    if (this.syncer.status.registered) return { ready: true, reason: '' };
    if (this.snapshotSource === 'disk' && !this.syncer.status.serverReachable) return { ready: true, reason: '' };
    return { ready: false, reason: this.syncer.status.lastError ?? 'registering with the server' };
  }

  private statusReport() {
    const snapshot = this.watcher.snapshot;
    return {
      node: this.config.nodeName,
      address: this.config.advertiseAddr,
      server: this.config.server,
      version: this.version,
      pid: process.pid,
      startedAt: this.startedAt,
      ready: this.readiness().ready,
      ...this.syncer.status,
      configVersion: snapshot.configIndex,
      snapshot: { savedAt: snapshot.savedAt || undefined, loadedFromDisk: this.snapshotSource === 'disk' },
      services: this.config.services.map((s) => ({
        id: s.id,
        name: s.name,
        port: s.port,
        check: s.check ? { description: describeCheck(s.check), ...(this.checks.states.get(checkIdOf(s)) ?? { status: 'critical', output: '' }) } : null,
      })),
      // Transparent mode adds every mesh service (no local port: reached through iptables).
      upstreams: [...this.config.upstreams, ...Object.keys(snapshot.services?.vips ?? {}).filter((name) => this.config.transparent && !this.config.upstreams.some((u) => u.name === name)).map((name) => ({ name, localPort: 0 }))].map((u) => ({
        name: u.name,
        localPort: u.localPort,
        instances: snapshot.upstreams[u.name]?.instances.length ?? 0,
        passing: snapshot.upstreams[u.name]?.instances.filter((i) => i.status === 'passing').length ?? 0,
      })),
      certificates: this.certs.status(),
      mtls: { ...this.proxy.tlsStats, ...this.proxy.stats },
      metricsPort: this.metricsServer?.port,
      tap: this.tap.status(),
    };
  }
}
