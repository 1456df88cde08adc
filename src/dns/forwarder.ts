// Forwarding to the host's original resolvers: the client's query bytes as
// they came, under a fresh random ID (mapped back on the way out), over the
// transport the client used. A truncated UDP answer is relayed as it is: the
// client sees TC and retries over TCP itself, which we forward over TCP.

import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Clock, Random } from '../lib/clock.ts';
import type { Upstream } from './upstream.ts';

export interface ForwardOptions {
  readonly clock: Clock;
  readonly random: Random;
  /** How long one attempt waits for an upstream's answer. */
  readonly timeoutMs: number;
  /** Aborted when the server stops; pending attempts end with no answer. */
  readonly signal: AbortSignal;
}

/** The largest message we take from an upstream over TCP (the framing's maximum). */
const MAX_TCP_MESSAGE = 65535;
/** Largest UDP answer we relay; EDNS clients may ask for up to this. */
const MAX_UDP_MESSAGE = 65535;

type Attempt = (query: Buffer, upstream: Upstream, options: ForwardOptions) => Promise<Buffer | undefined>;

/**
 * Asks the upstreams in order, at most two attempts (the first upstream, then
 * the next one, or the same one again when there is only one). Resolves with
 * the answer carrying the client's ID, or undefined when nobody answered.
 */
export async function forward(query: Buffer, upstreams: readonly Upstream[], transport: 'udp' | 'tcp', options: ForwardOptions): Promise<Buffer | undefined> {
  if (upstreams.length === 0) return undefined;
  const clientId = query.readUInt16BE(0);
  const attempt: Attempt = transport === 'udp' ? attemptUdp : attemptTcp;
  for (let i = 0; i < 2 && !options.signal.aborted; i++) {
    const id = Math.floor(options.random() * 65536) & 0xffff;
    const outgoing = Buffer.from(query);
    outgoing.writeUInt16BE(id, 0);
    const answer = await attempt(outgoing, upstreams[i % upstreams.length]!, options);
    if (answer && answer.length >= 12 && answer.readUInt16BE(0) === id) {
      answer.writeUInt16BE(clientId, 0);
      return answer;
    }
  }
  return undefined;
}

/** Runs body with a timeout and abort wiring; done() settles once. */
function attemptWith(options: ForwardOptions, body: (done: (answer: Buffer | undefined) => void) => () => void): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    let cleanup = () => {};
    const done = (answer: Buffer | undefined) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      options.signal.removeEventListener('abort', onAbort);
      cleanup();
      resolve(answer);
    };
    const onAbort = () => done(undefined);
    const timer = options.clock.after(options.timeoutMs, () => done(undefined));
    options.signal.addEventListener('abort', onAbort);
    cleanup = body(done);
    if (settled) cleanup();
  });
}

// A socket per attempt: the OS picks a fresh random source port each time,
// which (with the random ID) makes forged answers hard to land.
function attemptUdp(query: Buffer, upstream: Upstream, options: ForwardOptions): Promise<Buffer | undefined> {
  return attemptWith(options, (done) => {
    const socket = createSocket(upstream.family === 6 ? 'udp6' : 'udp4');
    socket.on('error', () => done(undefined));
    socket.on('message', (message, rinfo) => {
      // Only the upstream we asked, with our ID, may answer.
      if (rinfo.address !== upstream.host.split('%')[0] || rinfo.port !== upstream.port) return;
      if (message.length < 12 || message.length > MAX_UDP_MESSAGE || message.readUInt16BE(0) !== query.readUInt16BE(0)) return;
      done(message);
    });
    socket.send(query, upstream.port, upstream.host, (error) => {
      if (error) done(undefined);
    });
    return () => socket.close();
  });
}

function attemptTcp(query: Buffer, upstream: Upstream, options: ForwardOptions): Promise<Buffer | undefined> {
  return attemptWith(options, (done) => {
    const socket = connect({ host: upstream.host, port: upstream.port, noDelay: true });
    let buffered = Buffer.alloc(0);
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_TCP_MESSAGE + 2) return done(undefined);
      if (buffered.length < 2) return;
      const length = buffered.readUInt16BE(0);
      if (buffered.length >= 2 + length) done(buffered.subarray(2, 2 + length));
    });
    return () => socket.destroy();
  });
}
