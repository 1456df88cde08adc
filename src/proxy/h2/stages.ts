// The HTTP/2 and gRPC stages: a stream from a local app to a mesh service
// (outbound), and a stream from a peer proxy to a local app (inbound), each
// relayed onto a pooled multiplexed session.

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ConnectionOptions } from 'node:tls';
import type { Cluster } from '../cluster.ts';
import { openHop } from '../http/hop-agent.ts';
import type { LocalTarget } from '../http/inbound.ts';
import { endStream, openSession, relay, respondFailure, type SessionPool } from './relay.ts';
import type { RouteEffects, RouteOutcome } from '../http/route.ts';
import type { OutgoingHttpHeaders } from 'node:http2';

/**
 * One HTTP/2 (or gRPC) stream from a local app to a mesh service. `effects`:
 * what a matched route changes (src/proxy/http/route.ts): the path, the
 * headers, a delay, and its timeout for the whole stream (a route's retries
 * and mirror need a request that can be replayed; a stream cannot).
 */
export async function h2Outbound(service: string, cluster: Cluster | undefined, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, sessions: SessionPool, caller: { name: string | undefined; tls: ConnectionOptions | string }, effects?: RouteEffects): Promise<void> {
  const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
  const tls = caller.tls;
  if (typeof tls === 'string') return respondFailure(stream, { cause: 'no_identity', hop: 'outbound', service, detail: tls }, grpc);
  if (!cluster || cluster.endpoints.size === 0) {
    return respondFailure(stream, { cause: cluster ? 'no_healthy_endpoints' : 'unknown_service', hop: 'outbound', service }, grpc);
  }
  if (!cluster.limits.tryAcquire('request')) {
    return respondFailure(stream, { cause: 'circuit_breaker', hop: 'outbound', service, policy: `max_requests=${cluster.defaults.circuitBreaker.maxRequests}` }, grpc);
  }
  const deadline = effects?.timeoutMs ? streamDeadline(stream, effects.timeoutMs, { cause: 'request_timeout', hop: 'outbound', service, policy: `request_timeout=${effects.timeoutMs}ms (route ${effects.route})` }, grpc) : undefined;
  try {
    // An injected delay (a route's fault) holds the stream here, within its timeout, as a slow network would.
    if (effects?.delayMs) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, effects.delayMs);
        stream.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (stream.closed || stream.destroyed || stream.headersSent) return;
    }
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
    // Gone (the caller, or the route's deadline) while the session opened: nothing to relay.
    if (stream.closed || stream.destroyed) {
      cluster.balancer.onEnd(endpoint.id, performance.now() - t0, true);
      return;
    }
    const status = await relay(stream, effects ? routedHeaders(headers, effects) : headers, session, (detail) => {
      failed = detail;
      respondFailure(stream, { cause: 'upstream_reset', hop: 'outbound', service, endpoint: endpoint.id, detail }, grpc);
    });
    cluster.balancer.onEnd(endpoint.id, performance.now() - t0, failed === undefined && status < 500);
    cluster.outlier.record(endpoint.id, failed === undefined ? { kind: 'response', status } : { kind: 'reset' });
  } finally {
    if (deadline) clearTimeout(deadline);
    cluster.limits.release('request');
  }
}

/** The stream's whole time, from its start: past it the mesh ends the stream (relay.ts endStream) and the relay cancels upstream. */
function streamDeadline(stream: ServerHttp2Stream, ms: number, failure: Parameters<typeof respondFailure>[1], grpc: boolean): NodeJS.Timeout {
  return setTimeout(() => endStream(stream, failure, grpc), ms);
}

/** The forwarded headers after a route: its path (rewritten, with the query) and its header edits; names lowercase, as HTTP/2 wants. */
export function routedHeaders(headers: IncomingHttpHeaders, effects: Pick<RouteEffects, 'path' | 'editHeaders'>): IncomingHttpHeaders {
  const raw: string[] = [];
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name.startsWith(':')) out[name] = value;
    else for (const v of Array.isArray(value) ? value : [value]) raw.push(name, v);
  }
  out[':path'] = effects.path;
  const edited = effects.editHeaders(raw);
  for (let i = 0; i < edited.length; i += 2) {
    const name = (edited[i] as string).toLowerCase();
    const value = edited[i + 1] as string;
    const existing = out[name];
    // One field, values combined (RFC 9110 5.3; cookies with "; ", RFC 9113 8.2.3): HTTP/2 refuses
    // a second user-agent, content-type or authorization field, which a route's Add would make.
    out[name] = existing === undefined ? value : `${Array.isArray(existing) ? existing.join(', ') : existing}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}

/** gRPC's status for an HTTP status the mesh answers with (gRPC's own mapping: http-grpc-status-mapping.md). */
export function grpcStatusOfHttp(status: number): number {
  const mapped: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };
  return mapped[status] ?? 2;
}

/** What a route answers itself on an HTTP/2 stream (a redirect, an injected abort, a refused rewrite); for gRPC, a trailers-only answer. */
export function respondRouted(stream: ServerHttp2Stream, outcome: Extract<RouteOutcome, { kind: 'respond' }>, grpc: boolean): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const named: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(outcome.headers)) if (name.toLowerCase() !== 'content-type') named[name.toLowerCase()] = value;
  if (grpc) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(grpcStatusOfHttp(outcome.status)), 'grpc-message': encodeURIComponent(outcome.body.trim() || `meshctl: ${outcome.status}`), ...named }, { endStream: true });
    return;
  }
  stream.respond({ ':status': outcome.status, ...named, ...(outcome.body ? { 'content-type': 'text/plain; charset=utf-8' } : {}) }, { endStream: outcome.body === '' });
  if (outcome.body) stream.end(outcome.body);
}

/** One HTTP/2 stream from a peer proxy to a local app, over a pooled h2c session. */
export async function h2Inbound(target: LocalTarget, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, sessions: SessionPool): Promise<void> {
  const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
  const session = await sessions.get(`local|${target.port}`, () => openSession(`http://127.0.0.1:${target.port}`));
  await relay(stream, headers, session, (detail) =>
    respondFailure(stream, { cause: 'local_app_unreachable', hop: 'inbound', service: target.service, endpoint: `127.0.0.1:${target.port}`, detail }, grpc),
  );
}
