// The HTTP/2 and gRPC stages: a stream from a local app to a mesh service
// (outbound), and a stream from a peer proxy to a local app (inbound), each
// relayed onto a pooled multiplexed session.

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ConnectionOptions } from 'node:tls';
import type { Cluster } from '../cluster.ts';
import { openHop } from '../http/hop-agent.ts';
import type { LocalTarget } from '../http/inbound.ts';
import { openSession, relay, respondFailure, type SessionPool } from './relay.ts';

/** One HTTP/2 (or gRPC) stream from a local app to a mesh service. */
export async function h2Outbound(service: string, cluster: Cluster | undefined, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, sessions: SessionPool, caller: { name: string | undefined; tls: ConnectionOptions | string }): Promise<void> {
  const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
  const tls = caller.tls;
  if (typeof tls === 'string') return respondFailure(stream, { cause: 'no_identity', hop: 'outbound', service, detail: tls }, grpc);
  if (!cluster || cluster.endpoints.size === 0) {
    return respondFailure(stream, { cause: cluster ? 'no_healthy_endpoints' : 'unknown_service', hop: 'outbound', service }, grpc);
  }
  if (!cluster.limits.tryAcquire('request')) {
    return respondFailure(stream, { cause: 'circuit_breaker', hop: 'outbound', service, policy: `max_requests=${cluster.defaults.circuitBreaker.maxRequests}` }, grpc);
  }
  try {
    // One attempt: the request stream is consumed as it is relayed, so it cannot be replayed.
    // gRPC clients retry UNAVAILABLE themselves (their retry policy, their budget).
    const endpoint = cluster.pick(undefined, new Set());
    if (!endpoint) return respondFailure(stream, { cause: 'no_healthy_endpoints', hop: 'outbound', service, detail: 'every instance is ejected' }, grpc);
    const t0 = performance.now();
    cluster.balancer.onStart(endpoint.id);
    let session;
    try {
      session = await sessions.get(`${caller.name}|${service}|${endpoint.id}`, async () => {
        const socket = await openHop({ host: endpoint.hopHost, port: endpoint.hopPort, service, instanceId: endpoint.instanceId, protocol: cluster.defaults.protocol === 'grpc' ? 'grpc' : 'http2' }, cluster.defaults.timeouts.connectMs, tls);
        return openSession(`https://${endpoint.hopHost}:${endpoint.hopPort}`, () => socket);
      });
    } catch (error) {
      cluster.balancer.onEnd(endpoint.id, performance.now() - t0, false);
      cluster.outlier.record(endpoint.id, { kind: 'connect-failure' });
      const e = error as NodeJS.ErrnoException;
      return respondFailure(stream, { cause: 'connect_failure', hop: 'outbound', service, endpoint: endpoint.id, detail: e.code ?? e.message }, grpc);
    }
    let failed: string | undefined;
    const status = await relay(stream, headers, session, (detail) => {
      failed = detail;
      respondFailure(stream, { cause: 'upstream_reset', hop: 'outbound', service, endpoint: endpoint.id, detail }, grpc);
    });
    cluster.balancer.onEnd(endpoint.id, performance.now() - t0, failed === undefined && status < 500);
    cluster.outlier.record(endpoint.id, failed === undefined ? { kind: 'response', status } : { kind: 'reset' });
  } finally {
    cluster.limits.release('request');
  }
}

/** One HTTP/2 stream from a peer proxy to a local app, over a pooled h2c session. */
export async function h2Inbound(target: LocalTarget, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, sessions: SessionPool): Promise<void> {
  const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
  const session = await sessions.get(`local|${target.port}`, () => openSession(`http://127.0.0.1:${target.port}`));
  await relay(stream, headers, session, (detail) =>
    respondFailure(stream, { cause: 'local_app_unreachable', hop: 'inbound', service: target.service, endpoint: `127.0.0.1:${target.port}`, detail }, grpc),
  );
}
