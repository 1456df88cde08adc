// The inbound HTTP/1.1 stage: a request from a peer proxy, for one of this
// host's service instances, forwarded to the local app over a keep-alive
// pool. The app being down is named as such, so the caller's proxy can tell
// it from the network (and its outlier detection ejects this instance).

import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { forwardableHeaders } from './headers.ts';
import { sendMeshError } from './outbound.ts';

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

/** Forwards the request with `path` (the normalized one the intentions judged), never the raw target. */
export function handleInbound(req: IncomingMessage, res: ServerResponse, target: LocalTarget, path: string, onEnd?: (status: number) => void): void {
  const upstream = request({
    host: '127.0.0.1',
    port: target.port,
    agent: poolFor(target.port),
    method: req.method,
    path,
    headers: forwardableHeaders(req.rawHeaders),
    setHost: false,
  });
  upstream.on('response', (response) => {
    res.writeHead(response.statusCode ?? 502, response.statusMessage, forwardableHeaders(response.rawHeaders));
    response.pipe(res);
    response.once('end', () => onEnd?.(response.statusCode ?? 502));
    response.once('error', () => res.destroy());
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    onEnd?.(502);
    sendMeshError(res, {
      cause: 'local_app_unreachable',
      hop: 'inbound',
      service: target.service,
      endpoint: `127.0.0.1:${target.port}`,
      detail: `${target.instanceId}: ${error.code ?? error.message}`,
    });
  });
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
