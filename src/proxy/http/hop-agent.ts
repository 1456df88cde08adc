// Keep-alive connection pools to peer proxies. Each connection is opened with
// the hop preamble (src/proxy/hop.ts) and then carries HTTP/1.1 requests for
// one service instance. A connection that saw an error is destroyed by Node's
// agent and never reused.

import { Agent, type AgentOptions } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeHop, type HopProtocol } from '../hop.ts';

export const CONNECT_TIMEOUT = 'EMESHCONNECTTIMEOUT';

export interface HopTarget {
  host: string;
  port: number;
  service: string;
  instanceId: string;
  protocol: HopProtocol;
}

/** Opens a connection to a peer proxy and writes the preamble; errors with CONNECT_TIMEOUT when slow. */
export function connectHop(target: HopTarget, connectTimeoutMs: number): Socket {
  // Half-open allowed: a TCP hop must carry one direction's FIN without closing the other.
  const socket = connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: target.protocol === 'tcp' });
  socket.write(encodeHop({ service: target.service, protocol: target.protocol, instance: target.instanceId }));
  const timer = setTimeout(() => {
    socket.destroy(Object.assign(new Error(`connect timeout after ${connectTimeoutMs} ms`), { code: CONNECT_TIMEOUT }));
  }, connectTimeoutMs);
  socket.once('connect', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

export class HopAgent extends Agent {
  readonly target: HopTarget;
  readonly connectTimeoutMs: number;

  constructor(target: HopTarget, connectTimeoutMs: number, options: AgentOptions = {}) {
    super({ keepAlive: true, scheduling: 'lifo', ...options });
    this.target = target;
    this.connectTimeoutMs = connectTimeoutMs;
  }

  override createConnection(): Duplex {
    return connectHop(this.target, this.connectTimeoutMs);
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
