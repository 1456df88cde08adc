// The access log's lines: one JSON object per HTTP request (or HTTP/2
// stream) and per TCP connection, from the record the proxy hands over. Pure:
// what a line says is decided here and golden-tested; where lines go (pino-roll,
// the rotated files) is access-log-file.ts.

import type { HttpRecord, TcpRecord, TelemetrySink } from '../../proxy/telemetry/records.ts';
import type { MeshFailure } from '../../proxy/mesh-error.ts';

/** The mesh's own answer, flattened onto the line. */
type FailureFields = { cause?: string; hop?: string; policy?: string; detail?: string };

/**
 * One HTTP line: the record's own fields under the same names (documented in
 * records.ts), plus the rest renamed for readers. Optional fields are absent,
 * never null, so `jq 'select(.cause)'` reads naturally.
 */
export type HttpAccessLine = Pick<HttpRecord, 'direction' | 'protocol' | 'source' | 'destination' | 'route' | 'endpoint' | 'method' | 'path' | 'status' | 'grpcStatus' | 'durationMs' | 'attempts' | 'mtls' | 'traceId' | 'spanId' | 'downstreamReset'> &
  FailureFields & {
    time: string;
    requestId: string;
    /** Body bytes received from the caller, and sent back to it. */
    bytesIn: number;
    bytesOut: number;
  };

export type TcpAccessLine = Pick<TcpRecord, 'direction' | 'source' | 'destination' | 'endpoint' | 'durationMs' | 'mtls'> &
  FailureFields & {
    time: string;
    protocol: 'tcp';
    /** Bytes from the side that opened the connection, and back to it. */
    bytesIn: number;
    bytesOut: number;
  };

/** Durations to the microsecond: finer is noise, coarser hides a fast hop. */
const ms = (value: number): number => Math.round(value * 1000) / 1000;

/**
 * The mesh's own answer, when it made one: why, which hop, which policy decided. Added onto
 * the line in place (these builders run for every request: no spread of throwaway objects).
 */
function addFailure(line: FailureFields, failure: MeshFailure | undefined): void {
  if (!failure) return;
  line.cause = failure.cause;
  line.hop = failure.hop;
  if (failure.policy) line.policy = failure.policy;
  if (failure.detail) line.detail = failure.detail;
}

/**
 * The line for a finished HTTP request. `time` is when it started, as in Envoy's and nginx's logs.
 * Fields are added in the line's order (the order they are written in): optional ones only when present.
 */
export function accessLogLine(r: HttpRecord): HttpAccessLine {
  const endpoint = r.endpoint ?? r.failure?.endpoint;
  const line = { time: new Date(r.startedAt).toISOString(), requestId: r.requestId ?? '' } as HttpAccessLine;
  if (r.traceId) line.traceId = r.traceId;
  if (r.spanId) line.spanId = r.spanId;
  line.direction = r.direction;
  line.protocol = r.protocol;
  line.source = r.source;
  line.destination = r.destination;
  if (r.route) line.route = r.route;
  if (endpoint) line.endpoint = endpoint;
  line.method = r.method;
  line.path = r.path;
  line.status = r.status;
  if (r.grpcStatus !== undefined) line.grpcStatus = r.grpcStatus;
  line.durationMs = ms(r.durationMs);
  line.bytesIn = r.requestBytes;
  line.bytesOut = r.responseBytes;
  if (r.attempts !== undefined) line.attempts = r.attempts;
  line.mtls = r.mtls;
  if (r.downstreamReset) line.downstreamReset = true;
  addFailure(line, r.failure);
  return line;
}

/** The line for a closed TCP connection. */
export function tcpAccessLogLine(r: TcpRecord): TcpAccessLine {
  const endpoint = r.endpoint ?? r.failure?.endpoint;
  const line = { time: new Date(r.startedAt).toISOString(), direction: r.direction, protocol: 'tcp', source: r.source, destination: r.destination } as TcpAccessLine;
  if (endpoint) line.endpoint = endpoint;
  line.durationMs = ms(r.durationMs);
  line.bytesIn = r.bytesSent;
  line.bytesOut = r.bytesReceived;
  line.mtls = r.mtls;
  addFailure(line, r.failure);
  return line;
}

/** The sink: each record becomes a line handed to `write` (which must not block: it queues). */
export function accessLogSink(write: (line: HttpAccessLine | TcpAccessLine) => void): TelemetrySink {
  return {
    http: (record) => write(accessLogLine(record)),
    tcp: (record) => write(tcpAccessLogLine(record)),
  };
}
