// The host's proxy, assembled. Listeners → route → cluster → endpoint, for
// TCP and HTTP alike:
//  - an upstream listener per --upstream (127.0.0.1:LOCALPORT → service);
//  - one inbound listener (0.0.0.0:15006) that peer proxies connect to over
//    mutual TLS (src/proxy/tls/mesh-tls.ts); inside it, the hop preamble names
//    the service instance and the protocol. Plaintext is refused unless the
//    service's mtls_mode is permissive.
// Outbound connections present the calling service's leaf: the one local
// service, or the one the upstream names (as=). Intentions are enforced here,
// at the callee (src/proxy/authorize.ts): per connection for TCP, per request
// or stream for HTTP, and a new deny ends the TCP connections, HTTP/2 streams
// and HTTP/1.1 requests in flight it denies.
// The routing table (clusters, protocols, local instances) is replaced whole
// by apply(): a connection or request reads it once, so it sees the old table
// or the new one, never a mix. It runs inside the agent process: one process
// to supervise, and no IPC on the config path.

import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { originalDestination, type OriginalDestination } from '../iptables/original-dst.ts';
import type { Clock, Random } from '../lib/clock.ts';
import { resolveServiceDefaults, type ResolvedServiceDefaults } from '../config/service-defaults.ts';
import { Cluster, type ClusterEndpoint, type EndpointSource } from './cluster.ts';
import { parseHop, type HopHeader, type HopProtocol } from './hop.ts';
import { HopAgent, connectHop } from './http/hop-agent.ts';
import { MeshTls, HOP_ALPN, type LeafPem, type TrustBundle } from './tls/mesh-tls.ts';
import type { TLSSocket } from 'node:tls';
import type { ServiceIdentity } from '../lib/pki/spiffe.ts';
import { headerValue, statusFor, type MeshFailure } from './mesh-error.ts';
import { compileIntentions, type IntentionTable } from '../config/intention-table.ts';
import { UNAUTHENTICATED, authorizeConnection, authorizeHttp, deniedNow, headersOfH2, headersOfRaw } from './authorize.ts';
import { connectLocal, relayUpgrade } from './http/upgrade.ts';
import { closeLocalPools, endInbound, handleInbound, type LocalTarget } from './http/inbound.ts';
import { beginExchange, endExchange, exchangesOn } from './http/in-flight.ts';
import { handleOutbound, sendMeshError } from './http/outbound.ts';
import { routeH2, routeHttp, type RouteOutcome } from './http/route.ts';
import type { RouteTable } from '../config/route-table.ts';
import { forwardTcpInbound, forwardTcpOutbound, splice } from './tcp/forward.ts';
import { constants, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { SessionPool, endStream, meshFailureOf, relayedBytes, respondFailure } from './h2/relay.ts';
import { h2Inbound, h2Outbound, respondRouted } from './h2/stages.ts';
import { refuseHostless, refuseHostlessUpgrade, refuseMalformed } from './http/strict.ts';
import { prepend } from './h2/prepend.ts';
import { Telemetry, type HttpRecord } from './telemetry/records.ts';
import { beginHop, type HopContext, type HopTracer } from './telemetry/hop-context.ts';
import { joinHostPort } from '../lib/net/host-port.ts';

export interface ProxyUpstream {
  service: string;
  /** 127.0.0.1:localPort reaches the service; 0 for none (a service reached only transparently). */
  localPort: number;
  /** The local service whose identity calls go out with; undefined when the host has none to offer. */
  caller?: string | undefined;
}

export interface ProxyLocalService {
  id: string;
  name: string;
  port: number;
}

export interface ProxyConfig {
  /** The upstream services and the instances of each (passing ones only). */
  upstreams: readonly ProxyUpstream[];
  instances: ReadonlyMap<string, readonly EndpointSource[]>;
  /** service-defaults entries by service name, as stored. */
  serviceDefaults: ReadonlyMap<string, unknown>;
  /** Who may call the local services: compiled from the service-intentions entries and the mesh default. */
  intentions: IntentionTable;
  /** Transparent mode: which redirected destinations are mesh services, and what to do with the others. */
  transparent?: TransparentRouting | undefined;
  /** The route sets and subsets of the mesh (service-router, service-resolver). */
  routes?: RouteTable | undefined;
  local: readonly ProxyLocalService[];
}

export interface TransparentRouting {
  /** Virtual IP → service. */
  vips: ReadonlyMap<string, string>;
  /** Destinations that are no mesh service: passed through as they are, or refused (registry_only). */
  passthrough: boolean;
}

interface Table {
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly callers: ReadonlyMap<string, string | undefined>;
  readonly intentions: IntentionTable;
  /** Transparent mode: a redirected destination (a VIP, or an instance's address:port) → its service. */
  readonly destinations: ReadonlyMap<string, string>;
  readonly passthrough: boolean;
  readonly routes: RouteTable | undefined;
  /** Every service's instances, for the clusters routes send to (another service, a subset). */
  readonly instances: ReadonlyMap<string, readonly EndpointSource[]>;
  readonly local: readonly ProxyLocalService[];
  readonly defaults: (service: string) => ResolvedServiceDefaults;
}

/** How long an inbound connection may take to say which service it wants. */
const PREAMBLE_TIMEOUT_MS = 10_000;
/** The first byte of a TLS record carrying a handshake (the ClientHello). */
const TLS_HANDSHAKE = 0x16;
const SERVICE_OF = Symbol('meshctl.service');
const TARGET_OF = Symbol('meshctl.target');
/** The caller of an inbound connection: the service in its certificate, or UNAUTHENTICATED for plaintext. */
const SOURCE_OF = Symbol('meshctl.source');
type Tagged = Socket & { [SERVICE_OF]?: string; [TARGET_OF]?: LocalTarget; [SOURCE_OF]?: string };

export interface ProxyStats {
  /** Transparent mode: redirected connections routed through the mesh, passed through, and refused. */
  redirectedToMesh: number;
  passedThrough: number;
  redirectRefused: number;
  /** Plaintext hop connections accepted (permissive services) and refused (strict ones). */
  plaintextAccepted: number;
  plaintextRefused: number;
}

export interface ProxyOptions {
  inboundHost: string;
  inboundPort: number;
  clock: Clock;
  random: Random;
  log: (line: string) => void;
  /** Every answer the proxy made on its own, as one JSON line (cause, hop, policy, endpoint). */
  onMeshError?: (line: string) => void;
  /** Transparent mode: the outbound listener iptables redirects apps' connections to (127.0.0.1 and ::1). */
  outboundPort?: number;
  /** Where every request's and connection's record goes (metrics, access log, summaries, tap). */
  telemetry?: Telemetry;
}

export class Proxy {
  private readonly options: ProxyOptions;
  // Until the first config arrives, nothing may call in: a new mesh denies by default.
  private table: Table = { clusters: new Map(), callers: new Map(), intentions: compileIntentions([], 'deny'), destinations: new Map(), passthrough: false, routes: undefined, instances: new Map(), local: [], defaults: () => resolveServiceDefaults(undefined) };
  /**
   * Open inbound connections judged once for all they carry (TCP hops,
   * upgraded HTTP, plaintext), and open HTTP/2 streams, judged again when the
   * config changes: a new deny, or a service turned strict, closes them.
   */
  private readonly judged = new Map<Socket | ServerHttp2Stream, { source: string; service: string; rejudge: (table: Table) => MeshFailure | undefined; end: (failure: MeshFailure) => void }>();
  private readonly tls: MeshTls;
  readonly stats: ProxyStats = { redirectedToMesh: 0, passedThrough: 0, redirectRefused: 0, plaintextAccepted: 0, plaintextRefused: 0 };
  private readonly outbound: Server[] = [];
  private readonly clusters = new Map<string, Cluster>();
  private readonly listeners = new Map<number, { service: string; server: Server }>();
  private readonly agents = new Map<string, HopAgent>();
  /** Pools replaced by a config change, closed once idle. */
  private readonly retiring = new Set<HopAgent>();
  private inbound: Server | undefined;
  /** Every accepted connection, so stop() can close them: the HTTP servers here never listen, and so do not track their own. */
  private readonly sockets = new Set<Socket>();
  private readonly outboundHttp: HttpServer;
  private readonly inboundHttp: HttpServer;
  /** One HTTP/2 server per upstream service and per local instance: a stream's handler knows its route without socket tags, which HTTP/2 sessions hide. */
  private readonly h2Servers = new Map<string, Http2Server>();
  private readonly h2Sessions = new SessionPool();
  readonly telemetry: Telemetry;
  /** Starts a span per HTTP hop when tracing is configured (setTracer). */
  private tracer: HopTracer | undefined;

  constructor(options: ProxyOptions) {
    this.options = options;
    this.telemetry = options.telemetry ?? new Telemetry(options.log);
    this.tls = new MeshTls({ log: options.log, now: () => options.clock.now(), onPeer: (socket, peer) => this.acceptSecure(socket, peer) });
    // Host is checked by refuseHostless, so the refusal carries the mesh header like every other one.
    const httpOptions = { insecureHTTPParser: false, requireHostHeader: false, keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 30_000 };
    this.outboundHttp = createHttpServer(httpOptions, (req, res) => {
      if (refuseHostless(req, res, 'outbound')) return;
      const service = (req.socket as Tagged)[SERVICE_OF] ?? '';
      // One table for the whole request: it sees the old route set or the new one, never a mix.
      const table = this.table;
      const caller = table.callers.get(service);
      const agentFor = (cluster: Cluster, endpoint: ClusterEndpoint) => this.agentFor(cluster, endpoint, caller);
      // Most services have no routes: they pay one map lookup for them, not a matcher run.
      const routed: RouteOutcome =
        table.routes?.version(service) === undefined
          ? { kind: 'forward', cluster: table.clusters.get(service), service }
          : routeHttp(req, service, table.clusters.get(service), { routes: table.routes, caller, random: this.options.random, clusterFor: (s, subset) => this.clusterFor(table, s, subset), agentFor });
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const startedAt = Date.now();
      const t0 = performance.now();
      const destination = routed.kind === 'forward' ? routed.service : service;
      const hop = beginHop({ direction: 'outbound', protocol: 'http', source: caller ?? '', destination, method, path, rawHeaders: req.rawHeaders, startedAt }, this.tracer);
      if (routed.kind === 'respond') {
        req.resume();
        res.writeHead(routed.status, { ...routed.headers, 'content-length': Buffer.byteLength(routed.body) });
        res.end(routed.body);
        this.record(hop, { direction: 'outbound', protocol: 'http', source: caller ?? '', destination, method, path, status: routed.status, mtls: true, startedAt, durationMs: performance.now() - t0, requestBytes: 0, responseBytes: Buffer.byteLength(routed.body) });
        return;
      }
      const route = routed.effects?.route;
      void handleOutbound(req, res, routed.cluster, routed.service, {
        random: this.options.random,
        agentFor,
        setHeaders: hop.set,
        onRequestEnd: (event) => {
          this.record(hop, {
            direction: 'outbound', protocol: 'http', source: caller ?? '', destination, ...(route ? { route } : {}), ...(event.endpoint ? { endpoint: event.endpoint } : {}),
            method, path, status: event.status, mtls: true, startedAt, durationMs: event.durationMs, requestBytes: event.requestBytes, responseBytes: event.responseBytes, attempts: event.attempts,
            ...(event.failure ? { failure: event.failure } : {}), ...(event.downstreamReset ? { downstreamReset: true } : {}),
          });
          if (event.failure) this.options.onMeshError?.(JSON.stringify({ method, path, status: event.status, attempts: event.attempts, durationMs: Math.round(event.durationMs), ...(route ? { route } : {}), requestId: hop.requestId, ...event.failure }));
        },
      }, routed.effects);
    });
    this.inboundHttp = createHttpServer(httpOptions, (req, res) => {
      if (refuseHostless(req, res, 'inbound')) return;
      const target = (req.socket as Tagged)[TARGET_OF];
      if (!target) return sendMeshError(res, { cause: 'bad_hop', hop: 'inbound', service: '' });
      const source = (req.socket as Tagged)[SOURCE_OF] ?? UNAUTHENTICATED;
      const method = req.method ?? 'GET';
      const startedAt = Date.now();
      const t0 = performance.now();
      const head = { url: req.url ?? '', method, headers: headersOfRaw(req.rawHeaders) };
      const verdict = authorizeHttp(this.table.intentions, source, target.service, head);
      const base = { direction: 'inbound' as const, protocol: 'http' as const, source, destination: target.service, endpoint: target.instanceId, method, mtls: source !== UNAUTHENTICATED, startedAt };
      const hop = beginHop({ ...base, path: verdict.ok ? verdict.forwardPath : req.url ?? '', rawHeaders: req.rawHeaders }, this.tracer);
      if (!verdict.ok) {
        req.resume();
        this.options.onMeshError?.(JSON.stringify({ method, path: req.url, status: 403, requestId: hop.requestId, ...verdict.failure }));
        sendMeshError(res, verdict.failure);
        this.record(hop, { ...base, path: req.url ?? '', status: statusFor(verdict.failure.cause), durationMs: performance.now() - t0, requestBytes: 0, responseBytes: 0, failure: verdict.failure });
        return;
      }
      const path = verdict.forwardPath;
      const socket = req.socket;
      beginExchange(socket, res, head);
      handleInbound(req, res, target, path, hop.set, (end) => {
        endExchange(socket, res);
        this.record(hop, { ...base, path, status: end.status, durationMs: performance.now() - t0, requestBytes: end.requestBytes, responseBytes: end.responseBytes, ...(end.failure ? { failure: end.failure } : {}), ...(end.downstreamReset ? { downstreamReset: true } : {}) });
        // A failure this stage answered with (a deny that came while the exchange was in flight, the app
        // unreachable or breaking off) is logged like the fresh deny above; a caller that hung up is not one.
        if (end.failure && !end.downstreamReset) this.options.onMeshError?.(JSON.stringify({ method, path, status: end.status, requestId: hop.requestId, ...end.failure }));
      });
    });
    this.outboundHttp.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (refuseHostlessUpgrade(req, socket, 'outbound')) return;
      const service = (socket as Tagged)[SERVICE_OF] ?? '';
      const cluster = this.table.clusters.get(service);
      const endpoint = cluster?.pick(undefined, new Set());
      if (!cluster || !endpoint) {
        socket.end(`HTTP/1.1 503 Service Unavailable\r\nx-mesh-error: no_healthy_endpoints; hop=outbound; service=${service}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        return;
      }
      const tls = this.tls.clientOptions(this.table.callers.get(service), service, 'http');
      if (typeof tls === 'string') {
        socket.end(`HTTP/1.1 503 Service Unavailable\r\nx-mesh-error: no_identity; hop=outbound; service=${service}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        return;
      }
      const upstream = connectHop({ host: endpoint.hopHost, port: endpoint.hopPort, service, instanceId: endpoint.instanceId, protocol: 'http' }, cluster.defaults.timeouts.connectMs, tls);
      relayUpgrade(req, socket, head, upstream, cluster.defaults.timeouts.idleMs);
    });
    this.inboundHttp.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (refuseHostlessUpgrade(req, socket, 'inbound')) return;
      const target = (socket as Tagged)[TARGET_OF];
      if (!target) return socket.destroy();
      const verdict = authorizeHttp(this.table.intentions, (socket as Tagged)[SOURCE_OF] ?? UNAUTHENTICATED, target.service, { url: req.url ?? '', method: req.method ?? 'GET', headers: headersOfRaw(req.rawHeaders) });
      if (!verdict.ok) {
        socket.end(`HTTP/1.1 ${verdict.failure.cause === 'bad_request' ? '400 Bad Request' : '403 Forbidden'}\r\nx-mesh-error: ${headerValue(verdict.failure)}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        return;
      }
      req.url = verdict.forwardPath;
      const source = (socket as Tagged)[SOURCE_OF] ?? UNAUTHENTICATED;
      const request = { url: verdict.forwardPath, method: req.method ?? 'GET', headers: headersOfRaw(req.rawHeaders) };
      this.judge(socket, source, target.service, (table) => deniedNow(table.intentions, source, target.service, request));
      relayUpgrade(req, socket, head, connectLocal(target.port), this.table.defaults(target.service).timeouts.idleMs);
    });
    for (const server of [this.outboundHttp, this.inboundHttp]) {
      server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => refuseMalformed(error, socket, server === this.outboundHttp ? 'outbound' : 'inbound'));
    }

  }

  /** Turns tracing on (a tracer) or off (undefined); requests already in flight keep the span they started with. */
  setTracer(tracer: HopTracer | undefined): void {
    this.tracer = tracer;
  }

  /** A finished HTTP request: its span ends and its record goes to every sink. */
  private record(hop: HopContext, record: Omit<HttpRecord, 'requestId' | 'traceId' | 'spanId'>): void {
    const full: HttpRecord = { ...record, requestId: hop.requestId, ...(hop.traceId ? { traceId: hop.traceId } : {}), ...(hop.span ? { spanId: hop.span.spanId } : {}) };
    hop.span?.end(full);
    this.telemetry.http(full);
  }

  async start(): Promise<void> {
    // noDelay: a hop's first answer must not wait out Nagle against the peer's delayed ACK (tens of ms).
    this.inbound = createNetServer({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }, (socket) => this.acceptInbound(socket));
    await listen(this.inbound, this.options.inboundPort, this.options.inboundHost);
    if (this.options.outboundPort !== undefined) {
      // iptables REDIRECT in OUTPUT sends local connections to the loopback address of their family.
      for (const host of ['127.0.0.1', '::1']) {
        const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.acceptRedirected(socket));
        await listen(server, this.options.outboundPort, host);
        this.outbound.push(server);
      }
    }
  }

  get inboundAddress(): string {
    const a = this.inbound?.address();
    return a && typeof a === 'object' ? `${a.address}:${a.port}` : '';
  }

  /** Replaces the routing table atomically, opening and closing upstream listeners as needed. */
  async apply(config: ProxyConfig): Promise<void> {
    const defaultsOf = memoDefaults(config.serviceDefaults);
    const clusters = new Map<string, Cluster>();
    for (const up of config.upstreams) {
      const defaults = defaultsOf(up.service);
      let cluster = this.clusters.get(up.service);
      if (!cluster) {
        cluster = new Cluster(up.service, defaults, { clock: this.options.clock, random: this.options.random, events: (event) => this.telemetry.resilience(event) });
        this.clusters.set(up.service, cluster);
      }
      cluster.update(config.instances.get(up.service) ?? [], defaults);
      clusters.set(up.service, cluster);
    }
    // Clusters that routes made (another service, a subset) follow the catalog too.
    for (const [key, cluster] of this.clusters) {
      if (clusters.has(key) || !key.includes('~') && !config.instances.has(key)) continue;
      cluster.update(this.endpointsOf(config.instances, config.routes, key), defaultsOf(cluster.service));
    }
    this.table = {
      clusters,
      routes: config.routes,
      instances: config.instances,
      callers: new Map(config.upstreams.map((u) => [u.service, u.caller])),
      intentions: config.intentions,
      destinations: transparentDestinations(config),
      passthrough: config.transparent?.passthrough ?? false,
      local: config.local,
      defaults: defaultsOf,
    };
    // A new deny applies to connections, streams and exchanges already open, not only to new ones.
    for (const { source, service, rejudge, end } of this.judged.values()) {
      const denied = this.refusedAsPlaintext(source, service) ?? rejudge(this.table);
      if (denied) {
        this.options.log(`inbound: closing ${source || 'plaintext'} → ${service}: now denied by ${denied.policy}`);
        end(denied);
      }
    }
    const wanted = new Map(config.upstreams.filter((u) => u.localPort > 0).map((u) => [u.localPort, u.service]));
    for (const [port, listener] of this.listeners) {
      if (wanted.get(port) !== listener.service) {
        listener.server.close();
        this.listeners.delete(port);
      }
    }
    for (const [port, service] of wanted) {
      if (this.listeners.has(port)) continue;
      const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.acceptUpstream(socket, service));
      try {
        await listen(server, port, '127.0.0.1');
        this.listeners.set(port, { service, server });
      } catch (error) {
        this.options.log(`upstream ${service}: cannot listen on 127.0.0.1:${port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    for (const agent of this.retiring) {
      if (agent.idle()) {
        agent.destroy();
        this.retiring.delete(agent);
      }
    }
    // Pools go with their endpoint: of an upstream, or of a service or subset a route still sends to.
    const live = new Set<string>();
    const routed = routedKeys(config);
    for (const [key, cluster] of this.clusters) {
      if (!clusters.has(key) && !routed.has(key)) continue;
      for (const endpoint of cluster.endpoints.keys()) live.add(`${cluster.service}|${endpoint}`);
    }
    for (const [key, agent] of this.agents) {
      const [, service, endpoint] = key.split('|') as [string, string, string];
      if (!live.has(`${service}|${endpoint}`) && agent.idle()) {
        agent.destroy();
        this.agents.delete(key);
      }
    }
  }

  async stop(): Promise<void> {
    for (const server of this.outbound) server.close();
    this.outbound.length = 0;
    for (const { server } of this.listeners.values()) server.close();
    this.listeners.clear();
    this.inbound?.close();
    for (const agent of [...this.agents.values(), ...this.retiring]) agent.destroy();
    this.agents.clear();
    this.retiring.clear();
    closeLocalPools();
    this.h2Sessions.close();
    for (const server of this.h2Servers.values()) server.close();
    this.h2Servers.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // A peer or an app that resets its connection must never take the agent down.
    socket.on('error', () => socket.destroy());
  }

  /** A route's target: a service's cluster, or one subset of it (its instances filtered by the subset's tags and meta). */
  private clusterFor(table: Table, service: string, subset?: string): Cluster | undefined {
    const key = subset ? `${service}~${subset}` : service;
    const current = table.clusters.get(key);
    if (current) return current;
    if (subset && !table.routes?.subsetFilter(service, subset)) return undefined;
    if (!table.instances.has(service)) return undefined;
    let cluster = this.clusters.get(key);
    if (!cluster) {
      cluster = new Cluster(service, table.defaults(service), { clock: this.options.clock, random: this.options.random, events: (event) => this.telemetry.resilience(event) });
      cluster.update(this.endpointsOf(table.instances, table.routes, key), table.defaults(service));
      this.clusters.set(key, cluster);
    }
    return cluster;
  }

  private endpointsOf(instances: ReadonlyMap<string, readonly EndpointSource[]>, routes: RouteTable | undefined, key: string): readonly EndpointSource[] {
    const [service, subset] = key.split('~') as [string, string | undefined];
    const all = instances.get(service) ?? [];
    if (!subset) return all;
    const filter = routes?.subsetFilter(service, subset);
    return filter ? all.filter((i) => filter({ tags: i.tags ?? [], meta: i.meta ?? {} })) : [];
  }

  /** A plaintext caller of a service no longer permissive: refused, whatever the intentions say. */
  private refusedAsPlaintext(source: string, service: string): MeshFailure | undefined {
    if (source !== UNAUTHENTICATED || this.table.defaults(service).mtlsMode === 'permissive') return undefined;
    return { cause: 'intention_denied', hop: 'inbound', service, policy: 'mtls_mode=strict', detail: 'plaintext is no longer accepted' };
  }


  private judge(socket: Socket, source: string, service: string, rejudge: (table: Table) => MeshFailure | undefined, end: (failure: MeshFailure) => void = () => socket.destroy()): void {
    if (!this.judged.has(socket)) socket.once('close', () => this.judged.delete(socket));
    this.judged.set(socket, { source, service, rejudge, end });
  }

  /** HTTP/1.1 exchanges in flight at the inbound stage (tests: none may be left behind). */
  get exchangesInFlight(): number {
    let n = 0;
    for (const key of this.judged.keys()) n += exchangesOn(key as Socket).length;
    return n;
  }

  /**
   * An HTTP/2 stream (a gRPC call) lives as long as its caller keeps it: a
   * long stream is judged again on every config change, like a TCP hop, and
   * one now denied is answered with the denial if nothing was answered yet,
   * else reset.
   */
  private judgeStream(stream: ServerHttp2Stream, source: string, service: string, grpc: boolean, rejudge: (table: Table) => MeshFailure | undefined): void {
    stream.once('close', () => this.judged.delete(stream));
    this.judged.set(stream, { source, service, rejudge, end: (failure) => endStream(stream, failure, grpc) });
  }

  /** Replaces the mesh roots and the local services' leaves; new handshakes use them at once. */
  updateCertificates(trust: TrustBundle, leaves: ReadonlyMap<string, LeafPem>): void {
    this.tls.update(trust, leaves);
  }

  get tlsStats(): MeshTls['stats'] {
    return this.tls.stats;
  }

  /**
   * A connection iptables redirected to the outbound listener: to a mesh
   * service (its VIP, or an instance's address and port) it goes through the
   * mesh like an upstream's; anything else passes through as it was, or is
   * refused when the mesh's outbound policy is registry_only.
   */
  private acceptRedirected(socket: Socket): void {
    this.track(socket);
    let destination: OriginalDestination | undefined;
    try {
      destination = originalDestination(socket);
    } catch (error) {
      this.options.log(`outbound: cannot read the original destination (${(error as Error).message}); closing`);
    }
    if (!destination) {
      this.stats.redirectRefused++;
      socket.destroy();
      return;
    }
    const table = this.table;
    const service = table.destinations.get(destination.address) ?? table.destinations.get(joinHostPort(destination.address, destination.port));
    if (service) {
      this.stats.redirectedToMesh++;
      this.acceptUpstream(socket, service);
      return;
    }
    if (!table.passthrough) {
      this.stats.redirectRefused++;
      this.options.log(`outbound: ${joinHostPort(destination.address, destination.port)} is no mesh service and the outbound policy is registry_only; closing`);
      socket.destroy();
      return;
    }
    this.stats.passedThrough++;
    socket.pause();
    // The agent runs as the proxy user, whose connections iptables leaves alone: this one goes where the app meant.
    const direct = connect({ host: destination.address, port: destination.port, allowHalfOpen: true, noDelay: true });
    const defaults = table.defaults('');
    // Bounded like a mesh connect, and dropped if the app gives up first.
    const connectTimer = setTimeout(() => direct.destroy(), defaults.timeouts.connectMs);
    const giveUp = () => direct.destroy();
    socket.once('close', giveUp);
    direct.on('error', () => socket.destroy());
    direct.once('close', () => clearTimeout(connectTimer));
    direct.once('connect', () => {
      clearTimeout(connectTimer);
      socket.off('close', giveUp);
      void splice(socket, direct, defaults.timeouts.idleMs);
    });
  }

  private acceptUpstream(socket: Socket, service: string): void {
    this.track(socket);
    const table = this.table;
    const protocol = table.defaults(service).protocol;
    const caller = table.callers.get(service);
    if (protocol === 'tcp') {
      const startedAt = Date.now();
      const t0 = performance.now();
      this.telemetry.tcpOpened('outbound', caller ?? '', service);
      void forwardTcpOutbound(socket, table.clusters.get(service), service, this.tls.clientOptions(caller, service, 'tcp'), this.options.log)
        .catch((error: Error): Awaited<ReturnType<typeof forwardTcpOutbound>> => {
          // A fault of the proxy's own: the connection still ends, and its record closes the open gauge.
          this.options.log(`tcp ${service}: ${error.message}; closing`);
          socket.destroy();
          return { sent: socket.bytesRead, received: 0, failure: { cause: 'connect_failure', hop: 'outbound', service, detail: `proxy error: ${error.message}` } };
        })
        .then((end) => {
          this.telemetry.tcp({ direction: 'outbound', source: caller ?? '', destination: service, ...(end.endpoint ? { endpoint: end.endpoint } : {}), mtls: true, startedAt, durationMs: performance.now() - t0, bytesSent: end.sent, bytesReceived: end.received, ...(end.failure ? { failure: end.failure } : {}) });
        });
      return;
    }
    (socket as Tagged)[SERVICE_OF] = service;
    if (protocol === 'http2' || protocol === 'grpc') {
      this.h2Server(`out|${service}`, (stream, headers) => {
        // One table for the whole stream, as for an HTTP/1.1 request.
        const table = this.table;
        const current = table.callers.get(service);
        const routed: RouteOutcome =
          table.routes?.version(service) === undefined
            ? { kind: 'forward', cluster: table.clusters.get(service), service }
            : routeH2(headers, service, table.clusters.get(service), { routes: table.routes, caller: current, random: this.options.random, clusterFor: (s, subset) => this.clusterFor(table, s, subset), agentFor: (cluster, endpoint) => this.agentFor(cluster, endpoint, current) });
        const destination = routed.kind === 'forward' ? routed.service : service;
        const route = routed.kind === 'forward' ? routed.effects?.route : undefined;
        const traced = this.h2Hop({ direction: 'outbound', protocol, source: current ?? '', destination, mtls: true, ...(route ? { route } : {}) }, stream, headers);
        const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
        if (routed.kind === 'respond') return Promise.resolve(respondRouted(stream, routed, grpc));
        return h2Outbound(routed.service, routed.cluster, stream, traced, this.h2Sessions, { name: current, tls: this.tls.clientOptions(current, routed.service, protocol) }, routed.effects);
      }).emit('connection', socket);
    }
    else this.outboundHttp.emit('connection', socket);
  }

  /**
   * An HTTP/2 stream's hop: its request id and span (headers set on what is
   * forwarded), and its record when the stream closes, with the DATA bytes
   * the relay carried each way (headers and trailers are not counted, as for
   * HTTP/1.1 the body alone is).
   */
  private h2Hop(hop: Pick<HttpRecord, 'direction' | 'protocol' | 'source' | 'destination' | 'mtls'> & { endpoint?: string; route?: string }, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): IncomingHttpHeaders {
    const startedAt = Date.now();
    const t0 = performance.now();
    const method = String(headers[':method'] ?? 'GET');
    const path = String(headers[':path'] ?? '');
    const raw: string[] = [];
    for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':') && value !== undefined) raw.push(name, Array.isArray(value) ? value.join(', ') : value);
    const context = beginHop({ ...hop, method, path, rawHeaders: raw, startedAt }, this.tracer);
    stream.once('close', () => {
      const sent = (stream.sentHeaders ?? {}) as IncomingHttpHeaders;
      const trailers = ((stream as unknown as { sentTrailers?: IncomingHttpHeaders }).sentTrailers ?? {}) as IncomingHttpHeaders;
      const grpcStatus = trailers['grpc-status'] ?? sent['grpc-status'];
      // Only the proxy that made a mesh error reports it as its failure; the caller's proxy relaying it reports the status alone, as for HTTP/1.1.
      const failure = meshFailureOf(stream);
      const bytes = relayedBytes(stream);
      this.record(context, {
        ...hop, method, path, status: Number(sent[':status'] ?? 0), ...(grpcStatus !== undefined ? { grpcStatus: Number(grpcStatus) } : {}),
        startedAt, durationMs: performance.now() - t0, requestBytes: bytes.request, responseBytes: bytes.response,
        ...(failure ? { failure } : {}),
      });
    });
    if (context.set.length === 0) return headers;
    const out: IncomingHttpHeaders = { ...headers };
    for (const [name, value] of context.set) out[name] = value;
    return out;
  }

  private h2Server(key: string, onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => Promise<void>): Http2Server {
    let server = this.h2Servers.get(key);
    if (!server) {
      server = createH2Server();
      server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
        // A reset (the caller's, or one the mesh sends) emits 'error' on the stream: never the agent's end.
        stream.on('error', () => {});
        onStream(stream, headers).catch((error: Error) => {
          this.options.log(`${key.split('|')[0] === 'out' ? 'outbound' : 'inbound'} HTTP/2 stream: ${error.message}; resetting it`);
          if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        });
      });
      server.on('sessionError', () => {});
      this.h2Servers.set(key, server);
    }
    return server;
  }

  /**
   * A connection to the inbound listener: TLS goes to the TLS server (the
   * ClientHello is left on the socket for it to read); anything else is
   * plaintext, allowed only for a permissive service.
   */
  private acceptInbound(socket: Socket): void {
    this.track(socket);
    // A connection that says nothing is closed: an unauthenticated peer must not hold a descriptor for long.
    const silent = setTimeout(() => socket.destroy(), PREAMBLE_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(silent));
    socket.once('readable', () => {
      clearTimeout(silent);
      const first = socket.read() as Buffer | null;
      if (!first) return void socket.destroy();
      socket.unshift(first);
      // Transparent mode: a client outside the mesh calling a meshed port, redirected here by iptables (its
      // bytes, TLS or not, are the app's own protocol); anything else is a peer proxy's hop.
      const local = this.redirectedToLocal(socket);
      if (local) return this.acceptPlaintext(socket, local.name, this.table.defaults(local.name).protocol, local.id);
      if (first[0] === TLS_HANDSHAKE) return this.tls.accept(socket);
      this.readPreamble(socket, (header) => this.acceptPlaintext(socket, header.service, header.protocol, header.instance));
    });
  }

  /** The local instance a redirected inbound connection was meant for (by the port it was sent to), if it was redirected. */
  private redirectedToLocal(socket: Socket): ProxyLocalService | undefined {
    if (this.options.outboundPort === undefined) return undefined;
    let destination: OriginalDestination | undefined;
    try {
      destination = originalDestination(socket);
    } catch {
      return undefined;
    }
    return destination && this.table.local.find((l) => l.port === destination.port);
  }

  private acceptPlaintext(socket: Socket, service: string, protocol: HopProtocol, instanceId: string | undefined): void {
    if (this.table.defaults(service).mtlsMode !== 'permissive') {
      this.stats.plaintextRefused++;
      this.options.log(`inbound: plaintext from ${socket.remoteAddress} to ${service} refused: mtls_mode is strict (set it to permissive to accept plaintext while migrating)`);
      socket.destroy();
      return;
    }
    this.stats.plaintextAccepted++;
    this.routeInbound(socket, service, protocol, instanceId, undefined);
  }

  /** A verified mTLS peer: the preamble inside TLS must agree with the ALPN negotiated. */
  private acceptSecure(socket: TLSSocket, peer: ServiceIdentity): void {
    this.track(socket);
    this.readPreamble(socket, (header) => {
      if (socket.servername !== header.service) {
        this.options.log(`inbound: ${peer.service} at ${socket.remoteAddress} asked for ${socket.servername || 'no SNI'} but its preamble names ${header.service}; closing`);
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol !== HOP_ALPN[header.protocol]) {
        this.options.log(`inbound: ${peer.service} at ${socket.remoteAddress} negotiated ALPN ${socket.alpnProtocol || 'none'} for a ${header.protocol} hop; closing`);
        socket.destroy();
        return;
      }
      this.routeInbound(socket, header.service, header.protocol, header.instance, peer);
    });
  }

  /** Reads the hop preamble, then hands on the socket paused with the bytes after it unread. */
  private readPreamble(socket: Socket, onHeader: (header: HopHeader) => void): void {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), PREAMBLE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const parsed = parseHop(buffered);
      if (parsed.state === 'incomplete') return;
      socket.off('data', onData);
      clearTimeout(timer);
      if (parsed.state === 'invalid') {
        this.options.log(`inbound: ${parsed.reason} from ${socket.remoteAddress}; closing`);
        socket.destroy();
        return;
      }
      socket.pause();
      if (parsed.rest.length > 0) socket.unshift(parsed.rest);
      onHeader(parsed.header);
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.resume();
  }

  private routeInbound(socket: Socket, service: string, protocol: HopProtocol, instanceId: string | undefined, peer: ServiceIdentity | undefined): void {
    const source = peer?.service ?? UNAUTHENTICATED;
    // The service's protocol decides how it is judged, never the caller: a TCP hop to an HTTP service would skip its L7 rules.
    const configured = this.table.defaults(service).protocol;
    if (protocol !== configured) {
      this.options.log(`inbound: ${source || 'plaintext'} → ${service}: a ${protocol} hop to a ${configured} service; closing`);
      socket.destroy();
      return;
    }
    const local = this.table.local.find((l) => l.name === service && (instanceId === undefined || l.id === instanceId)) ?? this.table.local.find((l) => l.name === service);
    if (!local) {
      this.options.log(`inbound: no local instance of ${service}${instanceId ? ` (${instanceId})` : ''}; closing`);
      if (protocol === 'http') {
        socket.resume();
        socket.end(`HTTP/1.1 503 Service Unavailable\r\nx-mesh-error: unknown_service; hop=inbound; service=${service}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      } else socket.destroy();
      return;
    }
    if (protocol === 'tcp') {
      const denied = authorizeConnection(this.table.intentions, source, service);
      if (denied) {
        this.options.log(`inbound: tcp ${source || 'plaintext'} → ${service} denied by ${denied.policy}; closing`);
        socket.destroy();
        return;
      }
      this.judge(socket, source, service, (table) => authorizeConnection(table.intentions, source, service));
      // Stays paused until spliced to the app: bytes sent before that must not be dropped.
      const startedAt = Date.now();
      const t0 = performance.now();
      this.telemetry.tcpOpened('inbound', source, service);
      forwardTcpInbound(socket, local.port, this.table.defaults(service).timeouts.idleMs, (end) => {
        this.telemetry.tcp({ direction: 'inbound', source, destination: service, endpoint: local.id, mtls: source !== UNAUTHENTICATED, startedAt, durationMs: performance.now() - t0, bytesSent: end.sent, bytesReceived: end.received, ...(end.failure ? { failure: { ...end.failure, service } } : {}) });
      });
      return;
    }
    const target = { service, instanceId: local.id, port: local.port };
    if (protocol === 'http2' || protocol === 'grpc') {
      const rest = socket.read() as Buffer | null;
      // One server per caller too: a stream's handler knows who calls without reaching into the session.
      this.h2Server(`in|${local.id}|${local.port}|${source}`, (stream, headers) => {
        const head = { url: String(headers[':path'] ?? ''), method: String(headers[':method'] ?? 'GET'), headers: headersOfH2(headers) };
        const verdict = authorizeHttp(this.table.intentions, source, service, head);
        const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
        const traced = this.h2Hop({ direction: 'inbound', protocol, source, destination: service, endpoint: local.id, mtls: source !== UNAUTHENTICATED }, stream, { ...headers, ':path': verdict.ok ? verdict.forwardPath : headers[':path'] });
        if (!verdict.ok) return Promise.resolve(respondFailure(stream, verdict.failure, grpc));
        this.judgeStream(stream, source, service, grpc, (table) => deniedNow(table.intentions, source, service, head));
        return h2Inbound(target, stream, traced, this.h2Sessions);
      }).emit('connection', prepend(socket, rest ?? Buffer.alloc(0)));
      return;
    }
    (socket as Tagged)[SOURCE_OF] = source;
    (socket as Tagged)[TARGET_OF] = target;
    // HTTP is judged per request; the exchanges in flight are judged again, and a plaintext connection on
    // the service's mode too: its exchanges then end with the refusal (not as the caller's hang-up) before it closes.
    this.judge(
      socket,
      source,
      service,
      (table) => {
        for (const { res, head } of exchangesOn(socket)) {
          const denied = deniedNow(table.intentions, source, service, head);
          if (denied) endInbound(res, denied);
        }
        return undefined;
      },
      (failure) => {
        for (const { res } of exchangesOn(socket)) endInbound(res, failure);
        socket.destroy();
      },
    );
    this.inboundHttp.emit('connection', socket);
    socket.resume();
  }

  private agentFor(cluster: Cluster, endpoint: ClusterEndpoint, caller: string | undefined): HopAgent | MeshFailure {
    const service = cluster.service;
    const tls = this.tls.clientOptions(caller, service, 'http');
    if (typeof tls === 'string') return { cause: 'no_identity', hop: 'outbound', service, detail: tls };
    // One pool per calling identity too: a connection carries the certificate it was opened with.
    const key = `${caller}|${service}|${endpoint.id}`;
    let agent = this.agents.get(key);
    // New limits or timeouts make a new pool; the old one finishes its requests and goes.
    if (agent && (agent.maxSockets !== cluster.defaults.circuitBreaker.maxConnections || agent.connectTimeoutMs !== cluster.defaults.timeouts.connectMs)) {
      this.retiring.add(agent);
      agent = undefined;
    }
    if (!agent) {
      agent = new HopAgent(
        { host: endpoint.hopHost, port: endpoint.hopPort, service: cluster.service, instanceId: endpoint.instanceId, protocol: 'http' },
        cluster.defaults.timeouts.connectMs,
        () => this.tls.clientOptions(caller, service, 'http'),
        { maxSockets: cluster.defaults.circuitBreaker.maxConnections },
      );
      this.agents.set(key, agent);
    }
    return agent;
  }
}

/** The cluster keys (service, or service~subset) the routes of this host's upstreams send to. */
function routedKeys(config: ProxyConfig): Set<string> {
  const keys = new Set<string>();
  for (const up of config.upstreams) {
    for (const route of config.routes?.routes(up.service) ?? []) {
      for (const t of route.targets) keys.add(t.subset ? `${t.service}~${t.subset}` : t.service);
      if (route.mirror) keys.add(route.mirror.subset ? `${route.mirror.service}~${route.mirror.subset}` : route.mirror.service);
    }
  }
  return keys;
}


/** Transparent mode's routing keys: each VIP, and each instance's address:port, to its service. */
function transparentDestinations(config: ProxyConfig): Map<string, string> {
  const destinations = new Map<string, string>();
  if (!config.transparent) return destinations;
  for (const [service, instances] of config.instances) {
    for (const instance of instances) destinations.set(joinHostPort(instance.address, instance.port), service);
  }
  for (const [vip, service] of config.transparent.vips) destinations.set(vip, service);
  return destinations;
}

function memoDefaults(stored: ReadonlyMap<string, unknown>): (service: string) => ResolvedServiceDefaults {
  const cache = new Map<string, ResolvedServiceDefaults>();
  return (service) => {
    let resolved = cache.get(service);
    if (!resolved) {
      resolved = resolveServiceDefaults(stored.get(service) as never);
      cache.set(service, resolved);
    }
    return resolved;
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

