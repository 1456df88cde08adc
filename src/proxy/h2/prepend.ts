// After the hop preamble, the bytes already read must reach the HTTP/2
// session first. An HTTP/2 session reads a net.Socket's native handle
// directly and would miss bytes unshifted onto the JS stream, so the socket is
// wrapped in a Duplex that yields those bytes and then the socket's own.

import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

export function prepend(socket: Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  if (head.length > 0) duplex.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (error) => duplex.destroy(error));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
