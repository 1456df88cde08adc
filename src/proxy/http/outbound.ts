// The outbound HTTP/1.1 stage: a request from a local app, on an upstream
// listener, to a service in the mesh. In order: circuit-breaking limits,
// body buffering (to know whether a retry may replay it), then attempts
// (balancer pick → hop to the peer proxy → classify), with retries decided by
// the retry policy and the retry budget, and every outcome fed to the
// balancer and the outlier detector. What the proxy answers on its own names
// its cause (src/proxy/mesh-error.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Random } from '../../lib/clock.ts';
import type { Cluster, ClusterEndpoint } from '../cluster.ts';
import { HEADER, bodyText, headerValue, statusFor, type MeshFailure } from '../mesh-error.ts';
import { BUDGET_EXHAUSTED, backoffDelay, canReplay, decideRetry } from '../resilience/retry-policy.ts';
import { attempt, type AttemptResult } from './attempt.ts';
import { readBody } from './body.ts';
import { forwardableHeaders, rawHeader } from './headers.ts';
import { HopAgent } from './hop-agent.ts';
import type { RouteEffects } from './route.ts';
import { withHeaders } from '../telemetry/hop-context.ts';

export const MAX_REPLAY_BYTES = 64 * 1024;

export interface OutboundDeps {
  random: Random;
  /** The pool to an endpoint, or why the caller cannot connect at all (no identity to present). */
  agentFor(cluster: Cluster, endpoint: ClusterEndpoint): HopAgent | MeshFailure;
  /** Called once per request when it ends, for metrics and access logs. */
  onRequestEnd?(event: OutboundEnd): void;
  /** Headers to set on the forwarded request (request id, trace context), replacing any of the same name. */
  setHeaders?: readonly (readonly [string, string])[];
}

export interface OutboundEnd {
  service: string;
  endpoint?: string;
  status: number;
  attempts: number;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  failure?: MeshFailure;
}

/** `effects`: what a matched route changes (src/proxy/http/route.ts): path, headers, overrides, a delay, a mirror. */
export async function handleOutbound(req: IncomingMessage, res: ServerResponse, cluster: Cluster | undefined, service: string, deps: OutboundDeps, effects?: RouteEffects): Promise<void> {
  const started = performance.now();
  let requestBytes = 0;
  if (!cluster || cluster.endpoints.size === 0) {
    req.resume();
    return fail(res, requestBytes, { cause: cluster ? 'no_healthy_endpoints' : 'unknown_service', hop: 'outbound', service, detail: cluster ? 'no passing instance in the catalog' : 'the catalog has no instance of it' }, deps, started, 0);
  }
  const d = effects?.defaults ?? cluster.defaults;
  if (!cluster.limits.tryAcquire('request')) {
    req.resume();
    cluster.events({ kind: 'overflow', service, limit: 'max_requests' });
    return fail(res, requestBytes, { cause: 'circuit_breaker', hop: 'outbound', service, policy: `max_requests=${d.circuitBreaker.maxRequests}` }, deps, started, 0);
  }
  cluster.budget.recordRequest();
  let requestTimer: NodeJS.Timeout | undefined;
  let current: AttemptResult | undefined;
  try {
    const body = await readBody(req, MAX_REPLAY_BYTES);
    const bodyBytes = body.kind === 'none' ? 0 : body.kind === 'buffered' ? body.data.length : undefined;
    const replayable = canReplay(req.method ?? 'GET', bodyBytes, MAX_REPLAY_BYTES);
    requestBytes = bodyBytes ?? (Number(rawHeader(req.rawHeaders, 'content-length')) || 0);
    const forwarded = withHeaders(forwardableHeaders(req.rawHeaders), deps.setHeaders ?? []);
    const headers = effects ? effects.editHeaders(forwarded) : forwarded;
    const path = effects?.path ?? req.url ?? '/';
    if (effects?.mirror && body.kind !== 'stream') effects.mirror({ method: req.method ?? 'GET', path, headers, body: body.kind === 'buffered' ? body.data : undefined });
    const hashHeader = d.loadBalancer.hashOn.header;
    const hashKey = d.loadBalancer.policy !== 'ring_hash' ? undefined : hashHeader ? rawHeader(req.rawHeaders, hashHeader) : req.socket.remoteAddress;
    const tried = new Set<string>();
    let timedOut = false;
    // One controller for the whole request: the request timeout and a client that goes away both end
    // whatever attempt is in flight, so neither a hung app nor an abandoned caller holds a max_requests slot.
    const abort = new AbortController();
    if (d.timeouts.requestMs > 0) {
      requestTimer = setTimeout(() => {
        timedOut = true;
        abort.abort();
        if (current && 'abort' in current) current.abort();
      }, d.timeouts.requestMs);
    }
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    // An injected delay (a route's fault) holds the request here, within its timeout, as a slow network would.
    if (effects?.delayMs) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, effects.delayMs);
        abort.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
      if (timedOut) return fail(res, requestBytes, { cause: 'request_timeout', hop: 'outbound', service, policy: `request_timeout=${d.timeouts.requestMs}ms; fault delay ${effects.delayMs}ms (route ${effects.route})` }, deps, started, 0);
      if (abort.signal.aborted) return;
    }
    for (let attemptNo = 1; ; attemptNo++) {
      const endpoint = cluster.pick(hashKey, tried);
      if (!endpoint) return fail(res, requestBytes, { cause: 'no_healthy_endpoints', hop: 'outbound', service, policy: `${cluster.outlier.effectiveExclusions().size} ejected`, detail: 'every instance is ejected or failing' }, deps, started, attemptNo - 1);
      tried.add(endpoint.id);
      const agent = deps.agentFor(cluster, endpoint);
      if (!(agent instanceof HopAgent)) return fail(res, requestBytes, agent, deps, started, attemptNo - 1);
      // A request that finds its endpoint's pool full waits for a connection: that is what max_pending_requests bounds.
      const pending = agent.saturated();
      if (pending && !cluster.limits.tryAcquire('pending')) {
        cluster.events({ kind: 'overflow', service, limit: 'max_pending_requests' });
        return fail(res, requestBytes, { cause: 'circuit_breaker', hop: 'outbound', service, endpoint: endpoint.id, policy: `max_pending_requests=${d.circuitBreaker.maxPendingRequests}` }, deps, started, attemptNo - 1);
      }
      const t0 = performance.now();
      cluster.balancer.onStart(endpoint.id);
      current = await attempt({
        agent,
        method: req.method ?? 'GET',
        path,
        headers,
        body: body.kind === 'none' ? undefined : body.kind === 'buffered' ? body.data : body.stream,
        perTryTimeoutMs: d.retries.perTryTimeoutMs,
        signal: abort.signal,
      });
      if (pending) cluster.limits.release('pending');
      const ok = current.outcome.kind === 'response' && current.outcome.status < 500;
      cluster.balancer.onEnd(endpoint.id, performance.now() - t0, ok);
      cluster.outlier.record(endpoint.id, current.outcome);
      if (abort.signal.aborted && !timedOut) {
        // The client went away: nobody to answer, nothing to retry.
        if ('abort' in current) current.abort();
        return;
      }
      if (timedOut) {
        if ('abort' in current) current.abort();
        return fail(res, requestBytes, { cause: 'request_timeout', hop: 'outbound', service, endpoint: endpoint.id, policy: `request_timeout=${d.timeouts.requestMs}ms` }, deps, started, attemptNo);
      }
      const decision = decideRetry({
        outcome: current.outcome,
        attempt: attemptNo,
        policy: d.retries,
        replayable,
        budgetAllows: () => cluster.budget.tryWithdraw(),
      });
      if (!decision.retry && decision.reason === BUDGET_EXHAUSTED) cluster.events({ kind: 'retry_budget_exhausted', service });
      if (!decision.retry) {
        if ('response' in current) return relay(res, current.response, service, endpoint, deps, started, attemptNo, requestBytes);
        return fail(res, requestBytes, failureOf(current, service, endpoint, attemptNo, decision.reason, d.retries.perTryTimeoutMs), deps, started, attemptNo);
      }
      cluster.events({ kind: 'retry', service, endpoint: endpoint.id });
      if ('response' in current) current.response.resume();
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attemptNo, d.retries, deps.random)));
    }
  } catch (error) {
    return fail(res, requestBytes, { cause: 'bad_request', hop: 'outbound', service, detail: (error as Error).message }, deps, started, 0);
  } finally {
    if (requestTimer) clearTimeout(requestTimer);
    cluster.limits.release('request');
  }
}

function failureOf(result: AttemptResult, service: string, endpoint: ClusterEndpoint, attempts: number, reason: string, perTryMs: number | undefined): MeshFailure {
  const detail = 'detail' in result ? result.detail : '';
  const policy = `attempts=${attempts}; ${reason}`;
  switch (result.outcome.kind) {
    case 'connect-failure':
      return { cause: 'connect_failure', hop: 'outbound', service, endpoint: endpoint.id, policy, detail };
    case 'timeout':
      return { cause: 'upstream_timeout', hop: 'outbound', service, endpoint: endpoint.id, policy: `per_try_timeout=${perTryMs}ms; ${policy}`, detail };
    default:
      return { cause: 'upstream_reset', hop: 'outbound', service, endpoint: endpoint.id, policy, detail };
  }
}

function relay(res: ServerResponse, upstream: IncomingMessage, service: string, endpoint: ClusterEndpoint, deps: OutboundDeps, started: number, attempts: number, requestBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const status = upstream.statusCode ?? 502;
    res.writeHead(status, upstream.statusMessage, forwardableHeaders(upstream.rawHeaders));
    let responseBytes = 0;
    if (deps.onRequestEnd) upstream.on('data', (chunk: Buffer) => (responseBytes += chunk.length));
    upstream.pipe(res);
    const done = () => {
      deps.onRequestEnd?.({ service, endpoint: endpoint.id, status, attempts, durationMs: performance.now() - started, requestBytes, responseBytes });
      resolve();
    };
    upstream.once('end', done);
    upstream.once('error', () => {
      res.destroy();
      done();
    });
    res.once('close', () => {
      if (!upstream.complete) upstream.destroy();
    });
  });
}

function fail(res: ServerResponse, requestBytes: number, failure: MeshFailure, deps: OutboundDeps, started: number, attempts: number): void {
  const status = statusFor(failure.cause);
  deps.onRequestEnd?.({ service: failure.service, ...(failure.endpoint ? { endpoint: failure.endpoint } : {}), status, attempts, durationMs: performance.now() - started, requestBytes, responseBytes: Buffer.byteLength(bodyText(failure)), failure });
  sendMeshError(res, failure);
}

export function sendMeshError(res: ServerResponse, failure: MeshFailure): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = bodyText(failure);
  res.writeHead(statusFor(failure.cause), { [HEADER]: headerValue(failure), 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
