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

/** The mesh's own answer, when it made one: why, which hop, which policy decided. */
function failureFields(failure: MeshFailure | undefined): FailureFields {
  if (!failure) return {};
  return {
    cause: failure.cause,
    hop: failure.hop,
    ...(failure.policy ? { policy: failure.policy } : {}),
    ...(failure.detail ? { detail: failure.detail } : {}),
  };
}

/** The line for a finished HTTP request. `time` is when it started, as in Envoy's and nginx's logs. */
export function accessLogLine(r: HttpRecord): HttpAccessLine {
  const endpoint = r.endpoint ?? r.failure?.endpoint;
  return {
    time: new Date(r.startedAt).toISOString(),
    requestId: r.requestId ?? '',
    ...(r.traceId ? { traceId: r.traceId } : {}),
    ...(r.spanId ? { spanId: r.spanId } : {}),
    direction: r.direction,
    protocol: r.protocol,
    source: r.source,
    destination: r.destination,
    ...(r.route ? { route: r.route } : {}),
    ...(endpoint ? { endpoint } : {}),
    method: r.method,
    path: r.path,
    status: r.status,
    ...(r.grpcStatus !== undefined ? { grpcStatus: r.grpcStatus } : {}),
    durationMs: ms(r.durationMs),
    bytesIn: r.requestBytes,
    bytesOut: r.responseBytes,
    ...(r.attempts !== undefined ? { attempts: r.attempts } : {}),
    mtls: r.mtls,
    ...(r.downstreamReset ? { downstreamReset: true } : {}),
    ...failureFields(r.failure),
  };
}

/** The line for a closed TCP connection. */
export function tcpAccessLogLine(r: TcpRecord): TcpAccessLine {
  const endpoint = r.endpoint ?? r.failure?.endpoint;
  return {
    time: new Date(r.startedAt).toISOString(),
    direction: r.direction,
    protocol: 'tcp',
    source: r.source,
    destination: r.destination,
    ...(endpoint ? { endpoint } : {}),
    durationMs: ms(r.durationMs),
    bytesIn: r.bytesSent,
    bytesOut: r.bytesReceived,
    mtls: r.mtls,
    ...failureFields(r.failure),
  };
}

/** The sink: each record becomes a line handed to `write` (which must not block: it queues). */
export function accessLogSink(write: (line: HttpAccessLine | TcpAccessLine) => void): TelemetrySink {
  return {
    http: (record) => write(accessLogLine(record)),
    tcp: (record) => write(tcpAccessLogLine(record)),
  };
}
