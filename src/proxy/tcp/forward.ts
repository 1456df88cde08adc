// TCP: opaque bytes, both directions, with half-close kept (a FIN from one
// side becomes a FIN to the other, and the other direction stays open).
// Outbound connections pick an endpoint by the balancer (least_request counts
// connections), retry connect failures on other endpoints, and respect the
// max_connections limit. An idle timeout closes both sides.

import { connect, type Socket } from 'node:net';
import type { Cluster } from '../cluster.ts';
import type { ConnectionOptions } from 'node:tls';
import { HOP_READY, connectHop } from '../http/hop-agent.ts';
import type { MeshFailure } from '../mesh-error.ts';

/** How a proxied TCP connection ended, for telemetry: bytes each way, the endpoint, or why it never connected. */
export interface TcpEnd {
  endpoint?: string;
  sent: number;
  received: number;
  failure?: MeshFailure;
}

/** Joins two sockets; resolves when both are closed. */
export function splice(a: Socket, b: Socket, idleTimeoutMs: number): Promise<{ sent: number; received: number }> {
  return new Promise((resolve) => {
    // One side may be gone already (a client that reset while the hop connected): nothing to join.
    if (a.destroyed || b.destroyed) {
      a.destroy();
      b.destroy();
      resolve({ sent: 0, received: 0 });
      return;
    }
    // Counted as piped, not from bytesRead: an inbound hop's socket has already read the hop preamble (and
    // over TLS, bytesRead is the TLS records'), which are not the app's bytes.
    let sent = 0;
    let received = 0;
    a.on('data', (chunk: Buffer) => (sent += chunk.length));
    b.on('data', (chunk: Buffer) => (received += chunk.length));
    a.pipe(b);
    b.pipe(a);
    if (idleTimeoutMs > 0) {
      a.setTimeout(idleTimeoutMs, () => {
        a.destroy();
        b.destroy();
      });
    }
    let closed = 0;
    /** One side fully closed: the other goes too, once it has written what it still holds (at once after an error). */
    const closeOther = (other: Socket, hadError: boolean) => {
      if (other.destroyed) return;
      if (hadError || other.writableFinished) return void other.destroy();
      other.once('finish', () => other.destroy());
      if (!other.writableEnded) other.end();
      setTimeout(() => other.destroy(), 10_000).unref();
    };
    const onClose = () => {
      if (++closed === 2) resolve({ sent, received });
    };
    a.once('close', (hadError: boolean) => {
      closeOther(b, hadError);
      onClose();
    });
    b.once('close', (hadError: boolean) => {
      closeOther(a, hadError);
      onClose();
    });
    // An error on one side ends the other: there is no way to carry on half a conversation.
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
  });
}

export async function forwardTcpOutbound(client: Socket, cluster: Cluster | undefined, service: string, tls: ConnectionOptions | string, log: (line: string) => void): Promise<TcpEnd> {
  const refuse = (failure: MeshFailure): TcpEnd => {
    log(`tcp ${service}: ${failure.cause}${failure.policy ? ` ${failure.policy}` : ''}${failure.detail ? `: ${failure.detail}` : ''}; closing`);
    client.destroy();
    return { sent: client.bytesRead, received: 0, failure };
  };
  if (typeof tls === 'string') return refuse({ cause: 'no_identity', hop: 'outbound', service, detail: tls });
  if (!cluster || cluster.endpoints.size === 0) {
    return refuse({ cause: cluster ? 'no_healthy_endpoints' : 'unknown_service', hop: 'outbound', service, detail: 'no instance to send to' });
  }
  if (!cluster.limits.tryAcquire('connection')) {
    cluster.events({ kind: 'overflow', service, limit: 'max_connections' });
    return refuse({ cause: 'circuit_breaker', hop: 'outbound', service, policy: `max_connections=${cluster.defaults.circuitBreaker.maxConnections}` });
  }
  client.pause();
  const tried = new Set<string>();
  let lastError = '';
  try {
    for (let attemptNo = 1; attemptNo <= cluster.defaults.retries.numRetries + 1; attemptNo++) {
      const endpoint = cluster.pick(undefined, tried);
      if (!endpoint) break;
      tried.add(endpoint.id);
      cluster.balancer.onStart(endpoint.id);
      const t0 = performance.now();
      const upstream = connectHop({ host: endpoint.hopHost, port: endpoint.hopPort, service, instanceId: endpoint.instanceId, protocol: 'tcp' }, cluster.defaults.timeouts.connectMs, tls);
      const connected = await new Promise<boolean>((resolve) => {
        upstream.once(HOP_READY, () => resolve(true));
        upstream.on('error', (error: NodeJS.ErrnoException) => {
          lastError = error.code ?? error.message;
          resolve(false);
        });
      });
      if (!connected) {
        cluster.balancer.onEnd(endpoint.id, performance.now() - t0, false);
        cluster.outlier.record(endpoint.id, { kind: 'connect-failure' });
        upstream.destroy();
        continue;
      }
      cluster.outlier.record(endpoint.id, { kind: 'response', status: 200 });
      // The latency a balancer learns from is the connect time; a connection's lifetime says nothing of the endpoint.
      const connectMs = performance.now() - t0;
      const bytes = await splice(client, upstream, cluster.defaults.timeouts.idleMs);
      cluster.balancer.onEnd(endpoint.id, connectMs, true);
      return { endpoint: endpoint.id, ...bytes };
    }
    return refuse({ cause: 'connect_failure', hop: 'outbound', service, detail: `every endpoint tried (${[...tried].join(', ') || 'none'})${lastError ? `, last: ${lastError}` : ''}` });
  } finally {
    cluster.limits.release('connection');
  }
}

/** Inbound: the peer proxy's connection, spliced to the local app. */
export function forwardTcpInbound(socket: Socket, port: number, idleTimeoutMs: number, onEnd?: (end: TcpEnd) => void): Socket {
  const local = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let spliced = false;
  local.on('error', (error: NodeJS.ErrnoException) => {
    socket.destroy();
    if (!spliced) onEnd?.({ endpoint: `127.0.0.1:${port}`, sent: 0, received: 0, failure: { cause: 'local_app_unreachable', hop: 'inbound', service: '', endpoint: `127.0.0.1:${port}`, detail: error.code ?? error.message } });
  });
  local.once('connect', () => {
    spliced = true;
    void splice(socket, local, idleTimeoutMs).then((bytes) => onEnd?.({ endpoint: `127.0.0.1:${port}`, ...bytes }));
  });
  return local;
}
