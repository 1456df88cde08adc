// The inbound HTTP/1.1 stage: a request from a peer proxy, for one of this
// host's service instances, forwarded to the local app over a keep-alive
// pool. The app being down is named as such, so the caller's proxy can tell
// it from the network (and its outlier detection ejects this instance).

import { Agent, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { dropRestOfBody } from './body.ts';
import { forwardableHeaders } from './headers.ts';
import { CLIENT_CLOSED, sendMeshError } from './outbound.ts';
import { withHeaders } from '../telemetry/hop-context.ts';
import { statusFor, type MeshFailure } from '../mesh-error.ts';

export interface LocalTarget {
  service: string;
  instanceId: string;
  port: number;
}

const pools = new Map<number, Agent>();

function poolFor(port: number): Agent {
  let agent = pools.get(port);
  if (!agent) {
    agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
    pools.set(port, agent);
  }
  return agent;
}

export function closeLocalPools(): void {
  for (const agent of pools.values()) agent.destroy();
  pools.clear();
}

export interface InboundEnd {
  status: number;
  requestBytes: number;
  responseBytes: number;
  failure?: MeshFailure;
  /** The caller (the peer proxy) went away before the whole answer: not the app's failure. */
  downstreamReset?: boolean;
}

/** Ends the exchange's record, once: false when it had ended already. */
type End = (event: Omit<InboundEnd, 'requestBytes' | 'responseBytes'>) => boolean;
// Kept on the response Node already made, so that endInbound can cut an exchange from outside without a closure per request.
const UPSTREAM = Symbol('meshctl.inboundUpstream');
const END = Symbol('meshctl.inboundEnd');
type Exchange = ServerResponse & { [UPSTREAM]?: ClientRequest; [END]?: End };

/**
 * Forwards the request with `path` (the normalized one the intentions judged), never the raw target,
 * and `set` (request id, trace context) replacing those headers. `onEnd` is called exactly once:
 * the answer relayed, the app unreachable or breaking off, or the caller gone first.
 */
export function handleInbound(req: IncomingMessage, res: ServerResponse, target: LocalTarget, path: string, set: readonly (readonly [string, string])[] = [], onEnd?: (end: InboundEnd) => void): void {
  let requestBytes = 0;
  let responseBytes = 0;
  let ended = false;
  const end: End = (event) => {
    if (ended) return false;
    ended = true;
    onEnd?.({ ...event, requestBytes, responseBytes });
    return true;
  };
  if (onEnd) req.on('data', (chunk: Buffer) => (requestBytes += chunk.length));
  const upstream = request({
    host: '127.0.0.1',
    port: target.port,
    agent: poolFor(target.port),
    method: req.method,
    path,
    headers: withHeaders(forwardableHeaders(req.rawHeaders), set),
    setHost: false,
  });
  (res as Exchange)[UPSTREAM] = upstream;
  (res as Exchange)[END] = end;
  upstream.on('response', (response) => {
    // The mesh answered already (endInbound: a deny while the app was thinking): the app's answer has nowhere to go.
    if (res.writableEnded || res.destroyed) return void response.resume();
    const status = response.statusCode ?? 502;
    res.writeHead(status, response.statusMessage, forwardableHeaders(response.rawHeaders));
    if (onEnd) response.on('data', (chunk: Buffer) => (responseBytes += chunk.length));
    response.pipe(res);
    response.once('end', () => {
      end({ status });
      // The app answered before the caller finished its upload: the rest is dropped, not left to block the connection.
      dropRestOfBody(req, req, upstream);
    });
    response.once('error', (error: NodeJS.ErrnoException) => {
      if (!res.destroyed) end({ status, failure: { cause: 'upstream_reset', hop: 'inbound', service: target.service, endpoint: `127.0.0.1:${target.port}`, detail: `${target.instanceId}: the answer broke off after ${responseBytes} bytes: ${error.code ?? error.message}` } });
      res.destroy();
    });
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    if (ended) return;
    // The caller hung up first and that tore down this request: the app did nothing wrong.
    if (req.socket.destroyed) return void end({ status: res.headersSent ? res.statusCode : CLIENT_CLOSED, downstreamReset: true });
    const failure: MeshFailure = {
      cause: 'local_app_unreachable',
      hop: 'inbound',
      service: target.service,
      endpoint: `127.0.0.1:${target.port}`,
      detail: `${target.instanceId}: ${error.code ?? error.message}`,
    };
    end({ status: 502, failure });
    sendMeshError(res, failure);
  });
  res.once('close', () => {
    if (res.writableFinished) return;
    end({ status: res.headersSent ? res.statusCode : CLIENT_CLOSED, downstreamReset: true });
    upstream.destroy();
  });
  req.pipe(upstream);
}

/**
 * Ends an exchange the mesh no longer allows (a deny that came while it was
 * in flight). Before the app's answer has started, the caller gets the mesh
 * error, as a new request would; after, the caller's connection and the
 * request to the app are both destroyed, since HTTP/1.1 cannot fail an answer
 * mid-body: a chunked answer then lacks its last chunk, a sized one its
 * remaining bytes, and either way the caller can tell it was cut. Recorded
 * once, with the failure; an exchange that has ended already is left alone.
 */
export function endInbound(res: ServerResponse, failure: MeshFailure): void {
  const exchange = res as Exchange;
  const end = exchange[END];
  const upstream = exchange[UPSTREAM];
  if (!end || !upstream) return;
  if (!res.headersSent) {
    if (!end({ status: statusFor(failure.cause), failure })) return;
    upstream.destroy();
    // What the caller still sends is read and dropped, so the next request on its keep-alive connection is not held behind it.
    dropRestOfBody(res.req, res.req, undefined);
    sendMeshError(res, failure);
    return;
  }
  if (!end({ status: res.statusCode, failure })) return;
  upstream.destroy();
  res.destroy();
}
