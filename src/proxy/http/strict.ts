// Strict HTTP at both listeners: what Node's strict parser refuses, and a
// missing or doubled Host, get a 400 that names itself, and the connection
// is closed. Nothing ambiguous is ever forwarded.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendMeshError } from './outbound.ts';

/** Malformed HTTP (smuggling attempts among it) gets a 400 that says so, and the connection is closed. */
export function refuseMalformed(error: NodeJS.ErrnoException, socket: Socket, hop: 'outbound' | 'inbound'): void {
  if (!socket.writable || (error.code === 'ECONNRESET')) {
    socket.destroy();
    return;
  }
  const reason = (error.code ?? 'HPE_INVALID').replace(/[^A-Z_]/g, '');
  const body = `meshctl: malformed request refused (${reason})\n`;
  socket.end(`HTTP/1.1 400 Bad Request\r\nx-mesh-error: bad_request; hop=${hop}; policy=strict_http; detail=${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  socket.destroySoon();
}

const hostCount = (req: IncomingMessage): number => req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]?.toLowerCase() === 'host').length;

/** The same rule for an upgrade request, answered on the raw socket. */
export function refuseHostlessUpgrade(req: IncomingMessage, socket: Socket, hop: 'outbound' | 'inbound'): boolean {
  if (hostCount(req) === 1) return false;
  const body = 'meshctl: malformed request refused (an upgrade needs exactly one Host header)\n';
  socket.end(`HTTP/1.1 400 Bad Request\r\nx-mesh-error: bad_request; hop=${hop}; policy=strict_http\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  return true;
}

/** HTTP/1.1 requires exactly one Host (RFC 9112 §3.2). */
export function refuseHostless(req: IncomingMessage, res: ServerResponse, hop: 'outbound' | 'inbound'): boolean {
  const hosts = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]?.toLowerCase() === 'host').length;
  if (req.httpVersion === '1.1' ? hosts === 1 : hosts <= 1) return false;
  res.shouldKeepAlive = false;
  sendMeshError(res, { cause: 'bad_request', hop, service: '', policy: 'strict_http', detail: hosts === 0 ? 'HTTP/1.1 needs a Host header' : 'more than one Host header' });
  req.socket.destroySoon();
  return true;
}

