// The agent's DNS responder: `<service>.mesh` and `<service>.service.consul`
// answered from the mesh's virtual IPs, everything else forwarded to the
// host's original resolvers. UDP and TCP on one port (15053 in the agent;
// iptables --redirect-dns sends the host's port-53 traffic here), on one or
// more addresses: the agent listens on 127.0.0.1 and ::1, because ip6tables
// REDIRECT delivers IPv6 queries to ::1.

import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import type { Clock, Random } from '../lib/clock.ts';
import { MeshError } from '../lib/errors.ts';
import { joinHostPort } from '../lib/net/host-port.ts';
import { decide, responseTo, RCODE_SERVFAIL, type MeshRecords } from './mesh-zone.ts';
import { forward } from './forwarder.ts';
import { serveTcpConnection } from './tcp-connection.ts';
import { isSelf, parseUpstream, type Upstream } from './upstream.ts';
import { parseIpv4 } from './vip.ts';

export const MESH_DNS_PORT = 15053;

export interface MeshDnsOptions {
  /** The host's original resolvers, "host" or "host:port" (IP literals). */
  upstreams: readonly string[];
  log: (line: string) => void;
  clock: Clock;
  random: Random;
  /** TTL of mesh answers; short, so a service's VIP change is seen soon. Default 5. */
  ttlSeconds?: number;
  /** How long one forwarding attempt waits for an upstream. Default 2000 ms. */
  upstreamTimeoutMs?: number;
  /** A TCP connection with no query in flight is closed after this. Default 10000 ms. */
  idleTimeoutMs?: number;
}

export interface MeshDnsStats {
  /** Queries answered from the mesh records (including NXDOMAIN and NODATA). */
  readonly answered: number;
  /** Queries forwarded upstream and answered there. */
  readonly forwarded: number;
  /** Forwarded queries no upstream answered (the client got SERVFAIL). */
  readonly failed: number;
  /** Packets dropped (UDP) or connections closed (TCP) because they were not a DNS query. */
  readonly malformed: number;
}

const HEADER_BYTES = 12;
// Queries are small: one name of at most 255 bytes plus an OPT record.
const MAX_QUERY_BYTES = 4096;
// Bounds on queries waiting for an upstream, so a flood cannot open sockets
// without limit: per TCP connection (reading pauses) and in all (SERVFAIL).
const MAX_IN_FLIGHT_PER_CONNECTION = 32;
const MAX_FORWARDS_IN_FLIGHT = 1024;

/** Where to listen: one address (`{ host, port }`) or several on one port (`{ hosts, port }`). */
export type MeshDnsListen = { host: string; port: number } | { hosts: readonly string[]; port: number };

interface Listener {
  readonly host: string;
  readonly port: number;
  readonly udp: UdpSocket;
  readonly tcp: Server;
}

export class MeshDns {
  private readonly options: MeshDnsOptions;
  private readonly ttlSeconds: number;
  private readonly configuredUpstreams: readonly Upstream[];
  private upstreams: readonly Upstream[] = [];
  private records: MeshRecords = new Map();
  private listeners: Listener[] = [];
  private readonly connections = new Set<Socket>();
  private stopping = new AbortController();
  private counts = { answered: 0, forwarded: 0, failed: 0, malformed: 0 };
  private forwardsInFlight = 0;

  constructor(options: MeshDnsOptions) {
    this.options = options;
    this.ttlSeconds = options.ttlSeconds ?? 5;
    this.configuredUpstreams = options.upstreams.map(parseUpstream);
  }

  get stats(): MeshDnsStats {
    return { ...this.counts };
  }

  /** The first address bound (the port is known after start with port 0). */
  address(): { host: string; port: number } | undefined {
    const first = this.listeners[0];
    return first ? { host: first.host, port: first.port } : undefined;
  }

  /** Every address bound, in the order given to start; all share one port. */
  addresses(): { host: string; port: number }[] {
    return this.listeners.map(({ host, port }) => ({ host, port }));
  }

  /** Replaces the whole table at once: service name → virtual IPv4. Names are case-insensitive. */
  setRecords(records: ReadonlyMap<string, string>): void {
    const next = new Map<string, string>();
    for (const [service, vip] of records) {
      if (parseIpv4(vip) === undefined) throw new MeshError('MESH_E_BAD_REQUEST', `mesh DNS: the address of ${service} is not an IPv4 address: ${vip}`);
      next.set(service.toLowerCase(), vip);
    }
    this.records = next;
  }

  /**
   * Listens, UDP and TCP, on each host on one port. With port 0 the first
   * host's UDP socket picks the port and the rest take the same one.
   */
  async start(listen: MeshDnsListen): Promise<void> {
    const hosts = 'hosts' in listen ? [...listen.hosts] : [listen.host];
    const { port } = listen;
    if (hosts.length === 0) throw new MeshError('MESH_E_INTERNAL', 'mesh DNS: no address to listen on');
    this.stopping = new AbortController();
    // With port 0 the other listeners take the port the OS gave the first UDP
    // socket, which may already be taken for TCP or on another address: then
    // try another.
    for (let attempt = 1; ; attempt++) {
      const bound: Listener[] = [];
      let chosen = port;
      let failedHost = hosts[0]!;
      try {
        for (const host of hosts) {
          failedHost = host;
          const listener = await this.listen(host, chosen);
          bound.push(listener);
          chosen = listener.port;
        }
        this.listeners = bound;
        break;
      } catch (error) {
        await Promise.all(bound.map((l) => closeListener(l)));
        if (port !== 0 || attempt === 5 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
          throw new MeshError('MESH_E_INTERNAL', `mesh DNS cannot listen on ${joinHostPort(failedHost, chosen)}: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    this.upstreams = this.configuredUpstreams.filter((upstream) => {
      const self = this.listeners.some((listener) => isSelf(upstream, listener));
      if (self) this.options.log(`dns: ignoring upstream ${upstream.host}:${upstream.port}: it is this server`);
      return !self;
    });
    if (this.upstreams.length === 0) this.options.log('dns: no upstream resolvers; names outside the mesh get SERVFAIL');
  }

  private async listen(host: string, port: number): Promise<Listener> {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    udp.on('message', (message, rinfo) => this.onUdp(udp, message, rinfo));
    udp.on('error', (error) => this.options.log(`dns: udp ${joinHostPort(host, port)}: ${error.message}`));
    const tcp = createServer({ noDelay: true }, (socket) => this.onTcp(socket));
    try {
      udp.bind(port, host);
      await once(udp, 'listening');
      // ipv6Only: '::' must not also claim 0.0.0.0 (another host in the list may).
      tcp.listen({ port: udp.address().port, host, ipv6Only: host.includes(':') });
      await once(tcp, 'listening');
    } catch (error) {
      udp.close();
      tcp.close();
      throw error;
    }
    return { host, port: udp.address().port, udp, tcp };
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const socket of this.connections) socket.destroy();
    const listeners = this.listeners;
    this.listeners = [];
    await Promise.all(listeners.map((l) => closeListener(l)));
  }

  private onUdp(udp: UdpSocket, message: Buffer, rinfo: RemoteInfo): void {
    void this.handle(message, 'udp').then((response) => {
      // Answered from the socket the query came to, if it is still open.
      if (response && this.listeners.some((l) => l.udp === udp)) udp.send(response, rinfo.port, rinfo.address);
    });
  }

  private onTcp(socket: Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    serveTcpConnection(socket, {
      clock: this.options.clock,
      idleTimeoutMs: this.options.idleTimeoutMs ?? 10_000,
      minMessageBytes: HEADER_BYTES,
      maxMessageBytes: MAX_QUERY_BYTES,
      maxInFlight: MAX_IN_FLIGHT_PER_CONNECTION,
      handle: (message) => this.handle(message, 'tcp'),
      onMalformed: () => this.counts.malformed++,
    });
  }

  /** The response bytes for one message, or undefined when it is not a DNS query we can read. */
  private async handle(message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const query = this.decodeQuery(message);
    if (!query) {
      if (transport === 'udp') this.counts.malformed++;
      return undefined;
    }
    const decision = decide(query, this.records, this.ttlSeconds);
    if (decision.kind === 'answer') {
      this.counts.answered++;
      return Buffer.from(dnsPacket.encode(decision.response));
    }
    let answer: Buffer | undefined;
    if (this.forwardsInFlight < MAX_FORWARDS_IN_FLIGHT) {
      this.forwardsInFlight++;
      try {
        answer = await forward(message, this.upstreams, transport, {
          clock: this.options.clock,
          random: this.options.random,
          timeoutMs: this.options.upstreamTimeoutMs ?? 2000,
          signal: this.stopping.signal,
        });
      } finally {
        this.forwardsInFlight--;
      }
    }
    if (answer) {
      this.counts.forwarded++;
      return answer;
    }
    this.counts.failed++;
    return Buffer.from(dnsPacket.encode(responseTo(query, RCODE_SERVFAIL)));
  }

  private decodeQuery(message: Buffer): Packet | undefined {
    if (message.length < HEADER_BYTES || message.length > MAX_QUERY_BYTES) return undefined;
    try {
      const packet = dnsPacket.decode(message);
      if (packet.type !== 'query' || packet.questions?.length !== 1) return undefined;
      return packet;
    } catch {
      return undefined;
    }
  }
}

async function closeListener({ udp, tcp }: Listener): Promise<void> {
  await Promise.all([
    new Promise<void>((resolve) => udp.close(() => resolve())),
    new Promise<void>((resolve) => tcp.close(() => resolve())),
  ]);
}
