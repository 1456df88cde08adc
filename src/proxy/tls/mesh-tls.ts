// Mutual TLS on the hop between proxies. TLS 1.3 only; both sides present
// the leaf of a local service and verify the other's chain against the mesh
// roots (OpenSSL: signature, dates) and its identity from the certificate
// itself (src/lib/pki/peer.ts: one URI SAN, this trust domain, not a CA).
//  - Client: the caller's leaf, SNI = the destination service (so the peer
//    answers with that service's leaf), ALPN = the hop's protocol, and a
//    server identity check: the peer must be the service meant.
//  - Server: SNI picks the local service's leaf; a client certificate is
//    required; the verified peer identity is handed on with the socket.
// Certificates and roots are replaced whole by update(): a new handshake uses
// the new ones, connections already open keep theirs.

import { createSecureContext, createServer, type ConnectionOptions, type PeerCertificate, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { checkPeerCertificate, type PeerCheck } from '../../lib/pki/peer.ts';
import type { ServiceIdentity } from '../../lib/pki/spiffe.ts';
import type { HopProtocol } from '../hop.ts';

/** ALPN per hop protocol: h2 and http/1.1 as on the web, and a name of ours for opaque TCP. */
export const HOP_ALPN: Readonly<Record<HopProtocol, string>> = { tcp: 'meshctl/tcp', http: 'http/1.1', http2: 'h2', grpc: 'h2' };

export interface TrustBundle {
  trustDomain: string;
  rootsPem: readonly string[];
}

export interface LeafPem {
  certPem: string;
  keyPem: string;
}

export interface TlsStats {
  /** Handshakes this proxy completed as the server (inbound) and as the client (outbound). */
  inboundHandshakes: number;
  outboundHandshakes: number;
  /** Inbound handshakes that failed (no certificate, unknown CA, expired…), and verified peers refused for their identity. */
  inboundHandshakeFailures: number;
  peersRefused: number;
}

const PEER_CACHE_LIMIT = 1024;
const LOG_INTERVAL_MS = 1_000;

export class MeshTls {
  private trust: TrustBundle | undefined;
  private contexts = new Map<string, SecureContext>();
  /** Identity checks by certificate fingerprint: a pooled peer reconnecting is not parsed again. */
  private readonly peerCache = new Map<string, PeerCheck>();
  private readonly server: Server;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private lastLog = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  readonly stats: TlsStats = { inboundHandshakes: 0, outboundHandshakes: 0, inboundHandshakeFailures: 0, peersRefused: 0 };

  constructor(options: { onPeer: (socket: TLSSocket, peer: ServiceIdentity) => void; log: (line: string) => void; now: () => number }) {
    this.log = options.log;
    this.now = options.now;
    this.server = createServer(
      {
        SNICallback: (servername, callback) => {
          const context = this.contexts.get(servername);
          if (context) callback(null, context);
          else callback(new Error(`no local service "${servername}" on this host`));
        },
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: [...new Set(Object.values(HOP_ALPN))],
        minVersion: 'TLSv1.3',
        allowHalfOpen: true,
        handshakeTimeout: 10_000,
      },
      (socket) => {
        const peer = this.checkPeer(socket.getPeerCertificate());
        if (!peer.ok) {
          this.stats.peersRefused++;
          this.note(`inbound: peer ${socket.remoteAddress} refused: ${peer.reason}`);
          socket.destroy();
          return;
        }
        this.stats.inboundHandshakes++;
        options.onPeer(socket, peer.identity);
      },
    );
    this.server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.stats.inboundHandshakeFailures++;
      this.note(`inbound: TLS handshake from ${socket.remoteAddress} failed: ${error.code ?? ''} ${error.message}`);
      socket.destroy();
    });
  }

  get trustDomain(): string | undefined {
    return this.trust?.trustDomain;
  }

  /** Whether `service` has a leaf to present. */
  has(service: string): boolean {
    return this.trust !== undefined && this.contexts.has(service);
  }

  /** Replaces the roots and every local service's leaf at once. */
  update(trust: TrustBundle, leaves: ReadonlyMap<string, LeafPem>): void {
    const ca = [...trust.rootsPem];
    const contexts = new Map<string, SecureContext>();
    for (const [service, leaf] of leaves) {
      contexts.set(service, createSecureContext({ key: leaf.keyPem, cert: leaf.certPem, ca, minVersion: 'TLSv1.3' }));
    }
    if (trust.trustDomain !== this.trust?.trustDomain) this.peerCache.clear();
    this.trust = { trustDomain: trust.trustDomain, rootsPem: ca };
    this.contexts = contexts;
    // The default context only verifies: a client without SNI gets no certificate and fails the handshake.
    this.server.setSecureContext({ ca, minVersion: 'TLSv1.3' });
  }

  /**
   * How `caller` connects to `service`, or why it cannot: a string naming
   * the missing piece, which the caller turns into a mesh error.
   */
  clientOptions(caller: string | undefined, service: string, protocol: HopProtocol): ConnectionOptions | string {
    if (caller === undefined) return 'no local service to call as: register one (--service) or name it per upstream (--upstream NAME:PORT,as=SERVICE)';
    const context = this.contexts.get(caller);
    if (!this.trust || !context) return `no certificate for ${caller} yet (the agent gets one from the mesh CA at start)`;
    return {
      secureContext: context,
      servername: service,
      ALPNProtocols: [HOP_ALPN[protocol]],
      rejectUnauthorized: true,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const peer = this.checkPeer(cert);
        if (!peer.ok) return new Error(`peer refused: ${peer.reason}`);
        if (peer.identity.service !== service) return new Error(`peer refused: it is ${peer.spiffeId}, not the service ${service}`);
        this.stats.outboundHandshakes++;
        return undefined;
      },
    };
  }

  /** Hands a connection whose first bytes are a TLS ClientHello (left unread on the socket) to the TLS server. */
  accept(socket: Socket): void {
    this.server.emit('connection', socket);
  }

  private checkPeer(cert: PeerCertificate): PeerCheck {
    const trustDomain = this.trust?.trustDomain;
    if (!trustDomain) return { ok: false, reason: 'this proxy has no trust bundle yet' };
    if (!cert.raw) return { ok: false, reason: 'no certificate presented' };
    const key = cert.fingerprint256;
    let check = this.peerCache.get(key);
    if (!check) {
      check = checkPeerCertificate(cert.raw, trustDomain);
      if (this.peerCache.size >= PEER_CACHE_LIMIT) this.peerCache.clear();
      this.peerCache.set(key, check);
    }
    return check;
  }

  /** Logs refusals at most once a second, so a scanner cannot flood the log. */
  private note(line: string): void {
    const now = this.now();
    if (now - this.lastLog < LOG_INTERVAL_MS) {
      this.suppressed++;
      return;
    }
    this.log(this.suppressed > 0 ? `${line} (and ${this.suppressed} more refused since the last line)` : line);
    this.lastLog = now;
    this.suppressed = 0;
  }
}
