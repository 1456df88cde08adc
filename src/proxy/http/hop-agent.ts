// Keep-alive connection pools to peer proxies. Each connection is mutual TLS
// (src/proxy/tls/mesh-tls.ts), opened with the hop preamble (src/proxy/hop.ts)
// inside it, and then carries HTTP/1.1 requests for one service instance, as
// one calling service. A connection that saw an error is destroyed by Node's
// agent and never reused.

import { once } from 'node:events';
import { Agent, type AgentOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { encodeHop, type HopProtocol } from '../hop.ts';

export const CONNECT_TIMEOUT = 'EMESHCONNECTTIMEOUT';
/** The calling service has no identity to present (no leaf yet, or none named). */
export const NO_IDENTITY = 'EMESHNOIDENTITY';

export interface HopTarget {
  host: string;
  port: number;
  service: string;
  instanceId: string;
  protocol: HopProtocol;
}

/** The event a hop connection emits once it is usable: TCP connected and the TLS handshake done. */
export const HOP_READY = 'secureConnect';

/**
 * Opens a connection to a peer proxy and writes the preamble (sent once the
 * handshake is done); errors with CONNECT_TIMEOUT when the connection and the
 * handshake together take longer than the connect timeout.
 */
export function connectHop(target: HopTarget, connectTimeoutMs: number, tls: ConnectionOptions, options: { deferPreamble?: boolean } = {}): TLSSocket {
  // Half-open allowed: a TCP hop must carry one direction's FIN without closing the other.
  // allowHalfOpen is a documented tls.connect option that @types/node lacks.
  const socket = connect({ ...tls, host: target.host, port: target.port, allowHalfOpen: target.protocol === 'tcp' } as ConnectionOptions);
  socket.setNoDelay(true);
  if (!options.deferPreamble) socket.write(encodeHop({ service: target.service, protocol: target.protocol, instance: target.instanceId }));
  const timer = setTimeout(() => {
    socket.destroy(Object.assign(new Error(`connect timeout after ${connectTimeoutMs} ms`), { code: CONNECT_TIMEOUT }));
  }, connectTimeoutMs);
  socket.once(HOP_READY, () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

/**
 * A hop connection with its handshake done and its preamble written, for an
 * HTTP/2 session: the session writes to the TLS handle natively, and must not
 * start while a write made from JS is still pending on it.
 */
export async function openHop(target: HopTarget, connectTimeoutMs: number, tls: ConnectionOptions): Promise<TLSSocket> {
  const socket = connectHop(target, connectTimeoutMs, tls, { deferPreamble: true });
  try {
    // once() rejects on 'error': a refused handshake or a timeout fails the open.
    await once(socket, HOP_READY);
    await new Promise<void>((resolve, reject) => socket.write(encodeHop({ service: target.service, protocol: target.protocol, instance: target.instanceId }), (error) => (error ? reject(error) : resolve())));
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
}

/** Whether a hop connection has finished its handshake. */
export function hopReady(socket: Duplex): boolean {
  return (socket as Partial<TLSSocket>).authorized === true;
}

export class HopAgent extends Agent {
  readonly target: HopTarget;
  readonly connectTimeoutMs: number;
  /** The TLS options of each new connection: read at connect time, so a renewed leaf is used at once. */
  private readonly tls: () => ConnectionOptions | string;

  constructor(target: HopTarget, connectTimeoutMs: number, tls: () => ConnectionOptions | string, options: AgentOptions = {}) {
    super({ keepAlive: true, scheduling: 'lifo', ...options });
    this.target = target;
    this.connectTimeoutMs = connectTimeoutMs;
    this.tls = tls;
  }

  override createConnection(_options: unknown, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    const tls = this.tls();
    if (typeof tls === 'string') {
      // The leaf went away between the request's check and this connect: fail this request, not the agent.
      callback?.(Object.assign(new Error(tls), { code: NO_IDENTITY }), undefined as never);
      return undefined;
    }
    return connectHop(this.target, this.connectTimeoutMs, tls);
  }

  /** Whether every connection the pool may open is open and busy, so a new request would queue. */
  saturated(): boolean {
    const busy = Object.values(this.sockets).reduce((n, list) => n + (list?.length ?? 0), 0);
    const free = Object.values(this.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
    return free === 0 && busy >= this.maxSockets;
  }

  /** Whether no request is using or waiting for a connection of this pool. */
  idle(): boolean {
    return Object.keys(this.sockets).length === 0 && Object.keys(this.requests).length === 0;
  }
}
