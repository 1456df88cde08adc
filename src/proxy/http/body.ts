// Reads a request body far enough to know whether it can be replayed: up to
// maxBytes is buffered; a longer body is streamed once and never retried.

import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export type RequestBody =
  | { kind: 'none' }
  | { kind: 'buffered'; data: Buffer }
  /** Too long to replay: the bytes read so far, then the rest of the request; `bytes()` counts what went through so far. */
  | { kind: 'stream'; stream: Readable; bytes: () => number };

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function readBody(req: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  if (!hasBody(req)) {
    req.resume();
    return Promise.resolve({ kind: 'none' });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        const prefix = Buffer.concat(chunks);
        let streamed = prefix.length;
        async function* rest() {
          yield prefix;
          for await (const more of req) {
            streamed += (more as Buffer).length;
            yield more as Buffer;
          }
        }
        resolve({ kind: 'stream', stream: Readable.from(rest(), { objectMode: false }), bytes: () => streamed });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ kind: 'buffered', data: Buffer.concat(chunks) });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * An answer that ended before the caller finished its upload (an early 403 or
 * 413, or the mesh's own error): the rest is not forwarded but read and
 * dropped, so the next request on the caller's keep-alive connection is not
 * stuck behind it. Node's server drains a body nobody read, but not one piped
 * to a request that has ended or failed. `body` is what reads `req` (req
 * itself, or the stream the outbound stage made of it); `forwarding` is the
 * request carrying the body on, destroyed, as nothing more will be sent on it.
 */
export function dropRestOfBody(req: IncomingMessage, body: Readable, forwarding: { destroy(): void } | undefined): void {
  // All in, or the caller gone: nothing is left to drop.
  if (req.complete || req.destroyed) return;
  forwarding?.destroy();
  body.unpipe();
  body.resume();
}
