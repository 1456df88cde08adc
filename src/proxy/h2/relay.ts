// HTTP/2 and gRPC: one stream relayed onto a client session, both ways, with
// trailers carried (gRPC puts its status there). Sessions are multiplexed:
// one per peer, reused until it fails. Failures before the upstream answers
// become a response that names the cause; for gRPC that is a grpc-status
// (14 UNAVAILABLE, 4 DEADLINE_EXCEEDED) so clients see a proper gRPC error.

import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { HEADER, headerValue, statusFor, type MeshFailure } from '../mesh-error.ts';

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

export function forwardableH2Headers(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || CONNECTION_SPECIFIC.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** A pool of one multiplexed session per key, replaced when it closes or errors. */
export class SessionPool {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  /** Sessions being opened: streams that arrive meanwhile wait for the same one. */
  private readonly opening = new Map<string, Promise<ClientHttp2Session>>();

  get(key: string, open: () => ClientHttp2Session | Promise<ClientHttp2Session>): Promise<ClientHttp2Session> {
    const existing = this.sessions.get(key);
    if (existing && !existing.closed && !existing.destroyed) return Promise.resolve(existing);
    let pending = this.opening.get(key);
    if (!pending) {
      pending = Promise.resolve(open())
        .then((session) => this.keep(key, session))
        .finally(() => this.opening.delete(key));
      this.opening.set(key, pending);
    }
    return pending;
  }

  private keep(key: string, session: ClientHttp2Session): ClientHttp2Session {
    session.on('error', () => {});
    session.once('close', () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    });
    // An idle pooled session must not keep the process alive.
    (session.socket as Socket | undefined)?.unref?.();
    this.sessions.set(key, session);
    return session;
  }

  close(): void {
    for (const session of this.sessions.values()) session.destroy();
    this.sessions.clear();
  }
}

/** h2c to an address, or over a socket made by createConnection (the hop). */
export function openSession(authority: string, createConnection?: () => Socket): ClientHttp2Session {
  return connect(authority, createConnection ? { createConnection } : {});
}

/** gRPC's status for what the mesh answers itself: DEADLINE_EXCEEDED, PERMISSION_DENIED, INVALID_ARGUMENT; UNAVAILABLE otherwise. */
const GRPC_STATUS: Partial<Record<MeshFailure['cause'], string>> = { upstream_timeout: '4', request_timeout: '4', intention_denied: '7', bad_request: '3' };

/** A gRPC call's status for a mesh failure (UNAVAILABLE when the cause has none of its own), its message and the mesh's header: trailers-only or trailers. */
function grpcFailure(failure: MeshFailure): OutgoingHttpHeaders {
  return { 'grpc-status': GRPC_STATUS[failure.cause] ?? '14', 'grpc-message': encodeURIComponent(`meshctl: ${failure.cause}`), [HEADER]: headerValue(failure) };
}

export function respondFailure(stream: ServerHttp2Stream, failure: MeshFailure, grpc: boolean): void {
  if (stream.destroyed || stream.closed) return;
  (stream as Counted)[FAILURE] = failure;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const headers: OutgoingHttpHeaders = grpc
    ? { ':status': 200, 'content-type': 'application/grpc', ...grpcFailure(failure) }
    : { ':status': statusFor(failure.cause), 'content-type': 'text/plain; charset=utf-8', [HEADER]: headerValue(failure) };
  stream.respond(headers, { endStream: true });
}

/**
 * Ends a stream the mesh gives up on (a deadline, a deny): answered with the
 * failure when nothing was answered yet, then reset so the caller stops
 * sending (RFC 9113 8.1); mid-answer, a gRPC call still ends with its status
 * (DEADLINE_EXCEEDED, PERMISSION_DENIED…) in the trailers, anything else is
 * cancelled.
 */
export function endStream(stream: ServerHttp2Stream, failure: MeshFailure, grpc: boolean): void {
  if (stream.closed || stream.destroyed) return;
  if (!stream.headersSent) {
    respondFailure(stream, failure, grpc);
    stream.close(constants.NGHTTP2_NO_ERROR);
    return;
  }
  (stream as Counted)[FAILURE] = failure;
  if (grpc && endRelayWith(stream, grpcFailure(failure))) return;
  stream.close(constants.NGHTTP2_CANCEL);
}

/** The DATA bytes a stream's relay carried: the request's body in, the answer's out. */
export interface StreamBytes {
  request: number;
  response: number;
}

const BYTES = Symbol('meshctl.streamBytes');
const END_EARLY = Symbol('meshctl.endEarly');
const FAILURE = Symbol('meshctl.meshFailure');
type Counted = ServerHttp2Stream & { [BYTES]?: StreamBytes; [END_EARLY]?: (trailers: OutgoingHttpHeaders) => void; [FAILURE]?: MeshFailure };

/**
 * The failure this proxy answered the stream with, if it did: the record's. A
 * mesh error relayed from the other proxy is that proxy's to report, and is
 * never set here (it only passes through as a header).
 */
export function meshFailureOf(stream: ServerHttp2Stream): MeshFailure | undefined {
  return (stream as Counted)[FAILURE];
}

/**
 * Ends an answer being relayed with these trailers instead of the app's, and
 * cancels the app's stream: gRPC's way to fail a call mid-stream. False when
 * the stream has no answer under way that can still take trailers.
 */
function endRelayWith(stream: ServerHttp2Stream, trailers: OutgoingHttpHeaders): boolean {
  const end = (stream as Counted)[END_EARLY];
  if (!end || stream.closed || stream.destroyed) return false;
  end(trailers);
  return true;
}

/** What has been relayed on this stream so far; zeros when the mesh answered it itself. */
export function relayedBytes(stream: ServerHttp2Stream): StreamBytes {
  return (stream as Counted)[BYTES] ?? { request: 0, response: 0 };
}

/** Relays one stream; resolves with the upstream :status (0 when none came). */
export function relay(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, session: ClientHttp2Session, onFailure: (detail: string) => void): Promise<number> {
  return new Promise((resolve) => {
    let trailers: OutgoingHttpHeaders | undefined;
    let status = 0;
    let endedEarly = false;
    const bytes: StreamBytes = ((stream as Counted)[BYTES] = { request: 0, response: 0 });
    let upstream: ClientHttp2Stream;
    try {
      upstream = session.request(forwardableH2Headers(headers), { endStream: false });
    } catch (error) {
      // Headers HTTP/2 cannot send, or a session that just went away: the caller is answered, not left waiting.
      const e = error as NodeJS.ErrnoException;
      onFailure(e.code ?? e.message);
      return resolve(0);
    }
    upstream.on('response', (responseHeaders, flags: number) => {
      status = Number(responseHeaders[':status'] ?? 0);
      // The mesh already ended the caller's stream (a deadline, a deny): the app's answer has nowhere to go.
      if (stream.destroyed || stream.closed) return void upstream.close(constants.NGHTTP2_CANCEL);
      // A trailers-only answer (gRPC's way to fail at once) stays one HEADERS frame that ends the stream.
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
        stream.respond(forwardableH2Headers(responseHeaders), { endStream: true });
        return;
      }
      stream.respond(forwardableH2Headers(responseHeaders), { waitForTrailers: true });
      upstream.pipe(stream);
      (stream as Counted)[END_EARLY] = (mine) => {
        endedEarly = true;
        trailers = mine;
        upstream.unpipe(stream);
        upstream.close(constants.NGHTTP2_CANCEL);
        // What the caller still sends is read and dropped, so it is never held by flow control: a
        // reset after the trailers could overtake them, and the caller would see no status.
        stream.unpipe(upstream);
        stream.resume();
        stream.end();
      };
      // Beside the pipe, which already set the stream flowing: this listener only counts.
      upstream.on('data', (chunk: Buffer) => (bytes.response += chunk.length));
    });
    upstream.on('trailers', (t) => {
      if (!endedEarly) trailers = forwardableH2Headers(t);
    });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers ?? {}));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (endedEarly) return;
      if (status === 0) onFailure(error.code ?? error.message);
      else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    });
    upstream.on('close', () => resolve(status));
    stream.on('close', () => {
      if (!upstream.closed) upstream.close(constants.NGHTTP2_CANCEL);
    });
    stream.pipe(upstream);
    stream.on('data', (chunk: Buffer) => (bytes.request += chunk.length));
  });
}
