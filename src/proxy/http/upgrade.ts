// HTTP/1.1 upgrades (WebSocket and the like): the request head is passed on
// as received (Connection and Upgrade included: they are the point). The two
// connections are spliced only once the far side answers 101 Switching
// Protocols; any other answer is relayed and both connections are closed, so
// bytes after a refused upgrade are never forwarded unparsed.

import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { splice } from '../tcp/forward.ts';

const MAX_RESPONSE_HEAD = 16 * 1024;

export function requestHead(req: IncomingMessage): string {
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** Sends the upgrade request over `upstream` and splices once it answers 101. */
export function relayUpgrade(req: IncomingMessage, client: Socket, head: Buffer, upstream: Socket, idleTimeoutMs: number): void {
  upstream.write(requestHead(req));
  // Until the far side switches protocols, the client's bytes (head included: what came after the
  // request head in the same read) wait unsent.
  client.pause();
  let answered = false;
  let buffered = Buffer.alloc(0);
  const fail = () => {
    if (!answered && client.writable) client.end('HTTP/1.1 502 Bad Gateway\r\nx-mesh-error: upstream_reset; hop=upgrade\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    else client.destroy();
    upstream.destroy();
  };
  upstream.on('error', fail);
  client.on('error', () => upstream.destroy());
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buffered.length > MAX_RESPONSE_HEAD) fail();
      return;
    }
    answered = true;
    upstream.off('data', onData);
    upstream.pause();
    const responseHead = buffered.subarray(0, end).toString('latin1');
    if (/^HTTP\/1\.1 101 /.test(responseHead)) {
      client.write(buffered);
      if (head.length > 0) upstream.write(head);
      void splice(client, upstream, idleTimeoutMs);
      return;
    }
    // Refused: relay its answer (the head and a Content-Length body), then close both; the
    // client's later bytes are never read, and the app's connection is not kept.
    const length = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(responseHead)?.[1] ?? 0);
    let remaining = end + 4 + length - buffered.length;
    const finish = () => {
      client.end();
      upstream.destroy();
    };
    client.write(buffered.subarray(0, Math.min(buffered.length, end + 4 + length)));
    if (remaining <= 0) return finish();
    upstream.on('data', (more: Buffer) => {
      client.write(more.subarray(0, remaining));
      remaining -= more.length;
      if (remaining <= 0) finish();
    });
    upstream.once('end', finish);
    upstream.resume();
  };
  upstream.on('data', onData);
  upstream.once('end', () => {
    if (!answered) fail();
  });
}

export function connectLocal(port: number): Socket {
  return connect({ host: '127.0.0.1', port, allowHalfOpen: true });
}
