// The agent's DNS responder: `<service>.mesh` and `<service>.service.consul`
// answered from the mesh's virtual IPs, everything else forwarded to the
// host's original resolvers. UDP and TCP on one port (15053 in the agent;
// iptables --redirect-dns sends the host's port-53 traffic here).

import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import type { Clock, Random } from '../lib/clock.ts';
import { MeshError } from '../lib/errors.ts';
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

export class MeshDns {
  private readonly options: MeshDnsOptions;
  private readonly ttlSeconds: number;
  private readonly configuredUpstreams: readonly Upstream[];
  private upstreams: readonly Upstream[] = [];
  private records: MeshRecords = new Map();
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<Socket>();
  private stopping = new AbortController();
  private counts = { answered: 0, forwarded: 0, failed: 0, malformed: 0 };
  private forwardsInFlight = 0;
  private listening: { host: string; port: number } | undefined;

  constructor(options: MeshDnsOptions) {
    this.options = options;
    this.ttlSeconds = options.ttlSeconds ?? 5;
    this.configuredUpstreams = options.upstreams.map(parseUpstream);
  }

  get stats(): MeshDnsStats {
    return { ...this.counts };
  }

  /** The address actually bound (the port is known after start with port 0). */
  address(): { host: string; port: number } | undefined {
    return this.listening;
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

  async start({ host, port }: { host: string; port: number }): Promise<void> {
    this.stopping = new AbortController();
    // With port 0 the TCP listener takes the port the OS gave UDP, which may
    // already be taken for TCP: then try another.
    for (let attempt = 1; ; attempt++) {
      try {
        this.listening = await this.listen(host, port);
        break;
      } catch (error) {
        if (port !== 0 || attempt === 5 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
          throw new MeshError('MESH_E_INTERNAL', `mesh DNS cannot listen on ${host}:${port}: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    this.upstreams = this.configuredUpstreams.filter((upstream) => {
      const self = isSelf(upstream, this.listening!);
      if (self) this.options.log(`dns: ignoring upstream ${upstream.host}:${upstream.port}: it is this server`);
      return !self;
    });
    if (this.upstreams.length === 0) this.options.log('dns: no upstream resolvers; names outside the mesh get SERVFAIL');
  }

  private async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    udp.on('message', (message, rinfo) => this.onUdp(message, rinfo));
    udp.on('error', (error) => this.options.log(`dns: udp: ${error.message}`));
    const tcp = createServer({ noDelay: true }, (socket) => this.onTcp(socket));
    try {
      udp.bind(port, host);
      await once(udp, 'listening');
      tcp.listen(udp.address().port, host);
      await once(tcp, 'listening');
    } catch (error) {
      udp.close();
      tcp.close();
      throw error;
    }
    this.udp = udp;
    this.tcp = tcp;
    return { host, port: udp.address().port };
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const socket of this.connections) socket.destroy();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  private onUdp(message: Buffer, rinfo: RemoteInfo): void {
    void this.handle(message, 'udp').then((response) => {
      if (response && this.udp) this.udp.send(response, rinfo.port, rinfo.address);
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
