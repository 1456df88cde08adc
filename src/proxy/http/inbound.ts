// The inbound HTTP/1.1 stage: a request from a peer proxy, for one of this
// host's service instances, forwarded to the local app over a keep-alive
// pool. The app being down is named as such, so the caller's proxy can tell
// it from the network (and its outlier detection ejects this instance).

import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { forwardableHeaders } from './headers.ts';
import { sendMeshError } from './outbound.ts';
import { withHeaders } from '../telemetry/hop-context.ts';
import type { MeshFailure } from '../mesh-error.ts';

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
}

/**
 * Forwards the request with `path` (the normalized one the intentions judged), never the raw target,
 * and `set` (request id, trace context) replacing those headers.
 */
export function handleInbound(req: IncomingMessage, res: ServerResponse, target: LocalTarget, path: string, set: readonly (readonly [string, string])[] = [], onEnd?: (end: InboundEnd) => void): void {
  let requestBytes = 0;
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
  upstream.on('response', (response) => {
    const status = response.statusCode ?? 502;
    res.writeHead(status, response.statusMessage, forwardableHeaders(response.rawHeaders));
    let responseBytes = 0;
    if (onEnd) response.on('data', (chunk: Buffer) => (responseBytes += chunk.length));
    response.pipe(res);
    response.once('end', () => onEnd?.({ status, requestBytes, responseBytes }));
    response.once('error', () => res.destroy());
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    const failure: MeshFailure = {
      cause: 'local_app_unreachable',
      hop: 'inbound',
      service: target.service,
      endpoint: `127.0.0.1:${target.port}`,
      detail: `${target.instanceId}: ${error.code ?? error.message}`,
    };
    onEnd?.({ status: 502, requestBytes, responseBytes: 0, failure });
    sendMeshError(res, failure);
  });
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
