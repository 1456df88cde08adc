// One client's TCP connection to the mesh DNS: 2-byte length framing,
// several queries per connection, pipelined, answered as they are ready and
// matched by ID (RFC 7766), closed when idle or on anything malformed.

import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../lib/clock.ts';

export interface TcpConnectionOptions {
  readonly clock: Clock;
  readonly idleTimeoutMs: number;
  /** Messages outside min..max bytes close the connection unread. */
  readonly minMessageBytes: number;
  readonly maxMessageBytes: number;
  /** Queries answered concurrently; past it reading pauses. */
  readonly maxInFlight: number;
  /** The response to one message; undefined when it is not a query (the connection is then closed). */
  readonly handle: (message: Buffer) => Promise<Buffer | undefined>;
  readonly onMalformed: () => void;
}

export function serveTcpConnection(socket: Socket, options: TcpConnectionOptions): void {
  let buffered = Buffer.alloc(0);
  let inFlight = 0;
  let idle: TimerHandle | undefined;
  // A connection waiting on an upstream is not idle: the timer waits with it.
  const armIdle = () => {
    idle?.cancel();
    idle = options.clock.after(options.idleTimeoutMs, () => {
      if (inFlight === 0) socket.destroy();
      else armIdle();
    });
  };
  const malformed = () => {
    if (!socket.destroyed) options.onMalformed();
    socket.destroy();
  };
  const respond = (response: Buffer | undefined) => {
    inFlight--;
    if (!response) return malformed();
    if (socket.destroyed) return;
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(response.length, 0);
    socket.write(Buffer.concat([prefix, response]));
    armIdle();
    socket.resume();
    drain();
  };
  const drain = () => {
    if (socket.destroyed) return;
    while (buffered.length >= 2 && inFlight < options.maxInFlight) {
      const length = buffered.readUInt16BE(0);
      if (length < options.minMessageBytes || length > options.maxMessageBytes) return malformed();
      if (buffered.length < 2 + length) return;
      const message = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      inFlight++;
      void options.handle(message).then(respond, () => respond(undefined));
    }
    if (inFlight >= options.maxInFlight) socket.pause();
  };
  armIdle();
  socket.on('error', () => {});
  socket.on('close', () => idle?.cancel());
  socket.on('data', (chunk: Buffer) => {
    armIdle();
    buffered = Buffer.concat([buffered, chunk]);
    drain();
  });
}
