// The outbound HTTP/1.1 stage: a request from a local app, on an upstream
// listener, to a service in the mesh. In order: circuit-breaking limits,
// body buffering (to know whether a retry may replay it), then attempts
// (balancer pick → hop to the peer proxy → classify), with retries decided by
// the retry policy and the retry budget, and every outcome fed to the
// balancer and the outlier detector. What the proxy answers on its own names
// its cause (src/proxy/mesh-error.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Random } from '../../lib/clock.ts';
import type { Cluster, ClusterEndpoint } from '../cluster.ts';
import { HEADER, bodyText, headerValue, statusFor, type MeshFailure } from '../mesh-error.ts';
import { BUDGET_EXHAUSTED, backoffDelay, canReplay, decideRetry } from '../resilience/retry-policy.ts';
import { attempt, type AttemptResult } from './attempt.ts';
import { dropRestOfBody, readBody } from './body.ts';
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
  /** The caller went away before the answer was complete (its status is then 499 unless headers had gone out). */
  downstreamReset?: boolean;
}

/** Records the request's end, once: whichever of answer, failure or the caller's hang-up comes first. */
type Report = (event: Omit<OutboundEnd, 'durationMs' | 'requestBytes'>) => void;

/** nginx's status for a request whose client closed the connection before the answer: no app ever sent it. */
export const CLIENT_CLOSED = 499;

/** `effects`: what a matched route changes (src/proxy/http/route.ts): path, headers, overrides, a delay, a mirror. */
export async function handleOutbound(req: IncomingMessage, res: ServerResponse, cluster: Cluster | undefined, service: string, deps: OutboundDeps, effects?: RouteEffects): Promise<void> {
  const started = performance.now();
  let requestBytes = () => 0;
  let attempts = 0;
  let recorded = false;
  const report: Report = (event) => {
    if (recorded) return;
    recorded = true;
    deps.onRequestEnd?.({ ...event, durationMs: performance.now() - started, requestBytes: requestBytes() });
  };
  // One controller for the whole request: the request timeout and a client that goes away both end
  // whatever attempt is in flight, so neither a hung app nor an abandoned caller holds a max_requests slot.
  const abort = new AbortController();
  // A caller that hangs up before the whole answer ends the attempt, and is recorded (not as the callee's failure), once.
  res.once('close', () => {
    if (res.writableFinished) return;
    abort.abort();
    report({ service, status: res.headersSent ? res.statusCode : CLIENT_CLOSED, attempts, responseBytes: 0, downstreamReset: true });
  });
  if (!cluster || cluster.endpoints.size === 0) {
    req.resume();
    return fail(res, report, { cause: cluster ? 'no_healthy_endpoints' : 'unknown_service', hop: 'outbound', service, detail: cluster ? 'no passing instance in the catalog' : 'the catalog has no instance of it' }, 0);
  }
  const d = effects?.defaults ?? cluster.defaults;
  if (!cluster.limits.tryAcquire('request')) {
    req.resume();
    cluster.events({ kind: 'overflow', service, limit: 'max_requests' });
    return fail(res, report, { cause: 'circuit_breaker', hop: 'outbound', service, policy: `max_requests=${d.circuitBreaker.maxRequests}` }, 0);
  }
  cluster.budget.recordRequest();
  let requestTimer: NodeJS.Timeout | undefined;
  let current: AttemptResult | undefined;
  let streamed: Readable | undefined;
  try {
    const body = await readBody(req, MAX_REPLAY_BYTES);
    if (body.kind === 'stream') streamed = body.stream;
    const bodyBytes = body.kind === 'none' ? 0 : body.kind === 'buffered' ? body.data.length : undefined;
    const replayable = canReplay(req.method ?? 'GET', bodyBytes, MAX_REPLAY_BYTES);
    requestBytes = body.kind === 'stream' ? body.bytes : () => bodyBytes ?? 0;
    const forwarded = withHeaders(forwardableHeaders(req.rawHeaders), deps.setHeaders ?? []);
    const headers = effects ? effects.editHeaders(forwarded) : forwarded;
    const path = effects?.path ?? req.url ?? '/';
    if (effects?.mirror && body.kind !== 'stream') effects.mirror({ method: req.method ?? 'GET', path, headers, body: body.kind === 'buffered' ? body.data : undefined });
    const hashHeader = d.loadBalancer.hashOn.header;
    const hashKey = d.loadBalancer.policy !== 'ring_hash' ? undefined : hashHeader ? rawHeader(req.rawHeaders, hashHeader) : req.socket.remoteAddress;
    const tried = new Set<string>();
    let timedOut = false;
    if (d.timeouts.requestMs > 0) {
      requestTimer = setTimeout(() => {
        timedOut = true;
        abort.abort();
        if (current && 'abort' in current) current.abort();
      }, d.timeouts.requestMs);
    }
    // An injected delay (a route's fault) holds the request here, within its timeout, as a slow network would.
    if (effects?.delayMs) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, effects.delayMs);
        abort.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
      if (timedOut) return fail(res, report, { cause: 'request_timeout', hop: 'outbound', service, policy: `request_timeout=${d.timeouts.requestMs}ms; fault delay ${effects.delayMs}ms (route ${effects.route})` }, 0);
      if (abort.signal.aborted) return;
    }
    for (let attemptNo = 1; ; attemptNo++) {
      const endpoint = cluster.pick(hashKey, tried);
      if (!endpoint) return fail(res, report, { cause: 'no_healthy_endpoints', hop: 'outbound', service, policy: `${cluster.outlier.effectiveExclusions().size} ejected`, detail: 'every instance is ejected or failing' }, attemptNo - 1);
      tried.add(endpoint.id);
      const agent = deps.agentFor(cluster, endpoint);
      if (!(agent instanceof HopAgent)) return fail(res, report, agent, attemptNo - 1);
      // A request that finds its endpoint's pool full waits for a connection: that is what max_pending_requests bounds.
      const pending = agent.saturated();
      if (pending && !cluster.limits.tryAcquire('pending')) {
        cluster.events({ kind: 'overflow', service, limit: 'max_pending_requests' });
        return fail(res, report, { cause: 'circuit_breaker', hop: 'outbound', service, endpoint: endpoint.id, policy: `max_pending_requests=${d.circuitBreaker.maxPendingRequests}` }, attemptNo - 1);
      }
      const t0 = performance.now();
      cluster.balancer.onStart(endpoint.id);
      attempts = attemptNo;
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
        return fail(res, report, { cause: 'request_timeout', hop: 'outbound', service, endpoint: endpoint.id, policy: `request_timeout=${d.timeouts.requestMs}ms` }, attemptNo);
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
        // Awaited: the max_requests slot is held until the whole answer has been relayed, not only its headers.
        if ('response' in current) return await relay(res, current.response, service, endpoint, report, attemptNo);
        return fail(res, report, failureOf(current, service, endpoint, attemptNo, decision.reason, d.retries.perTryTimeoutMs), attemptNo);
      }
      cluster.events({ kind: 'retry', service, endpoint: endpoint.id });
      if ('response' in current) current.response.resume();
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attemptNo, d.retries, deps.random)));
    }
  } catch (error) {
    return fail(res, report, { cause: 'bad_request', hop: 'outbound', service, detail: (error as Error).message }, 0);
  } finally {
    if (requestTimer) clearTimeout(requestTimer);
    cluster.limits.release('request');
    // Answered before the caller finished its upload: the rest is dropped, not left to block the connection.
    if (streamed) dropRestOfBody(req, streamed, current && 'abort' in current ? { destroy: current.abort } : undefined);
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

function relay(res: ServerResponse, upstream: IncomingMessage, service: string, endpoint: ClusterEndpoint, report: Report, attempts: number): Promise<void> {
  return new Promise((resolve) => {
    const status = upstream.statusCode ?? 502;
    res.writeHead(status, upstream.statusMessage, forwardableHeaders(upstream.rawHeaders));
    let responseBytes = 0;
    upstream.on('data', (chunk: Buffer) => (responseBytes += chunk.length));
    upstream.pipe(res);
    upstream.once('end', () => {
      report({ service, endpoint: endpoint.id, status, attempts, responseBytes });
      resolve();
    });
    // The answer broke off after its headers went out: the caller sees a cut body, and so does the record.
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      report({ service, endpoint: endpoint.id, status, attempts, responseBytes, failure: { cause: 'upstream_reset', hop: 'outbound', service, endpoint: endpoint.id, detail: `the answer broke off after ${responseBytes} bytes: ${error.code ?? error.message}` } });
      res.destroy();
      resolve();
    });
    res.once('close', () => {
      if (!upstream.complete) upstream.destroy();
      resolve();
    });
  });
}

function fail(res: ServerResponse, report: Report, failure: MeshFailure, attempts: number): void {
  report({ service: failure.service, ...(failure.endpoint ? { endpoint: failure.endpoint } : {}), status: statusFor(failure.cause), attempts, responseBytes: Buffer.byteLength(bodyText(failure)), failure });
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
