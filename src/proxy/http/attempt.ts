// One attempt of an HTTP request against one endpoint, classified: either the
// upstream's response (headers arrived) or why there was none. The per-try
// timeout runs until the response headers arrive.

import { request, type IncomingMessage } from 'node:http';
import type { AttemptOutcome } from '../resilience/outcome.ts';
import { CONNECT_TIMEOUT, HOP_READY, hopReady, type HopAgent } from './hop-agent.ts';

export type AttemptResult =
  | { outcome: AttemptOutcome & { kind: 'response' }; response: IncomingMessage; abort: () => void }
  | { outcome: Exclude<AttemptOutcome, { kind: 'response' }>; detail: string };

const CONNECT_ERRORS = new Set([CONNECT_TIMEOUT, 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

export interface AttemptInput {
  agent: HopAgent;
  method: string;
  path: string;
  headers: string[];
  body: Buffer | NodeJS.ReadableStream | undefined;
  perTryTimeoutMs: number | undefined;
  /** Aborts the attempt (the request timeout fired, or the client went away). */
  signal?: AbortSignal;
}

export function attempt(input: AttemptInput): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const settle = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(result);
    };
    const req = request({
      agent: input.agent,
      method: input.method,
      path: input.path,
      headers: input.headers,
      setHost: false,
    });
    req.on('socket', (socket) => {
      // Connected means the handshake is done too: a peer that refuses our certificate is a connect failure.
      if (hopReady(socket)) connected = true;
      else socket.once(HOP_READY, () => (connected = true));
    });
    const timer = input.perTryTimeoutMs
      ? setTimeout(() => {
          settle({ outcome: { kind: 'timeout' }, detail: `no response within ${input.perTryTimeoutMs} ms` });
          req.destroy();
        }, input.perTryTimeoutMs)
      : undefined;
    const onAbort = () => {
      settle({ outcome: { kind: 'timeout' }, detail: 'aborted: request timeout or the client went away' });
      req.destroy();
    };
    if (input.signal?.aborted) onAbort();
    else input.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => input.signal?.removeEventListener('abort', onAbort));
    req.on('response', (response) => {
      settle({ outcome: { kind: 'response', status: response.statusCode ?? 0 }, response, abort: () => req.destroy() });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      if (!connected || CONNECT_ERRORS.has(code)) settle({ outcome: { kind: 'connect-failure' }, detail: code || error.message });
      else settle({ outcome: { kind: 'reset' }, detail: code || error.message });
    });
    const body = input.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else (body as NodeJS.ReadableStream).pipe(req);
  });
}
