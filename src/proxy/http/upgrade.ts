// HTTP/1.1 upgrades (WebSocket and the like): the request head is passed on
// as received (Connection and Upgrade included: they are the point), then
// the two connections are spliced and carry whatever the protocol is.

import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { splice } from '../tcp/forward.ts';

export function requestHead(req: IncomingMessage): string {
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** Sends the upgrade request over `upstream` (already connected or connecting) and splices. */
export function relayUpgrade(req: IncomingMessage, client: Socket, head: Buffer, upstream: Socket, idleTimeoutMs: number): void {
  upstream.write(requestHead(req));
  if (head.length > 0) upstream.write(head);
  upstream.on('error', () => {
    if (client.writable) client.end('HTTP/1.1 502 Bad Gateway\r\nx-mesh-error: connect_failure; hop=upgrade\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  void splice(client, upstream, idleTimeoutMs);
}

export function connectLocal(port: number): Socket {
  return connect({ host: '127.0.0.1', port, allowHalfOpen: true });
}
