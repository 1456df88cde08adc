// What the proxy tells the rest of the agent about the traffic it carried:
// one record when an HTTP request (or HTTP/2 stream) ends, one when a TCP
// connection closes, one event per resilience decision. The proxy measures and
// hands the record over; what to do with it (Prometheus metrics, the access
// log, the summaries for the control plane, tap, spans) is each sink's
// concern. Sinks run on the request's own turn of the event loop, so they
// must be cheap: count, append, or queue for a later flush.

import type { MeshFailure } from '../mesh-error.ts';

/** Which proxy saw it: the caller's (outbound) or the callee's (inbound). */
export type Direction = 'outbound' | 'inbound';

export interface HttpRecord {
  direction: Direction;
  protocol: 'http' | 'http2' | 'grpc';
  /** The calling service: its certificate's identity; '' for a caller outside the mesh (plaintext). */
  source: string;
  /** The service called. */
  destination: string;
  /** The route that matched (outbound, when the service has routes). */
  route?: string;
  /** Outbound: the instance the answer came from (or the last one tried). Inbound: the local instance. */
  endpoint?: string;
  method: string;
  /** The path as forwarded (normalized and checked at the inbound stage). */
  path: string;
  /** The status sent back to the caller: the app's, or the one the mesh answered with. */
  status: number;
  /** gRPC status when the answer carried one. */
  grpcStatus?: number;
  /** Whether the hop this record is about was mutual TLS (the inbound side of a plaintext permissive hop is not). */
  mtls: boolean;
  /** Wall-clock start (ms since the epoch) and duration until the last byte of the answer. */
  startedAt: number;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  /** Outbound: how many attempts were made (retries + 1). */
  attempts?: number;
  requestId?: string;
  traceId?: string;
  spanId?: string;
  /** Set when the mesh itself answered (x-mesh-error): why, which hop, which policy. */
  failure?: MeshFailure;
  /**
   * The caller went away before the whole answer (Envoy's DC): `status` is 499 when no answer had
   * started. Not the callee's failure: a success rate does not count it against the service.
   */
  downstreamReset?: boolean;
}

export interface TcpRecord {
  direction: Direction;
  source: string;
  destination: string;
  endpoint?: string;
  mtls: boolean;
  startedAt: number;
  durationMs: number;
  /** Bytes from the side that opened the connection, and back to it. */
  bytesSent: number;
  bytesReceived: number;
  failure?: MeshFailure;
}

export type ResilienceEvent =
  | { kind: 'retry'; service: string; endpoint: string }
  | { kind: 'retry_budget_exhausted'; service: string }
  | { kind: 'ejection'; service: string; endpoint: string }
  | { kind: 'overflow'; service: string; limit: 'max_requests' | 'max_pending_requests' | 'max_connections' };

/** Something that wants the records. Each method is optional: a sink takes what it needs. */
export interface TelemetrySink {
  http?(record: HttpRecord): void;
  tcp?(record: TcpRecord): void;
  resilience?(event: ResilienceEvent): void;
  /** A TCP connection opened (for gauges of open connections); its TcpRecord follows when it closes. */
  tcpOpened?(direction: Direction, source: string, destination: string): void;
}

/** Fans records out to the sinks. A sink that throws is logged and the rest still get the record. */
export class Telemetry {
  private sinks: TelemetrySink[] = [];
  private readonly log: (line: string) => void;

  constructor(log: (line: string) => void = () => {}) {
    this.log = log;
  }

  add(sink: TelemetrySink): () => void {
    this.sinks = [...this.sinks, sink];
    return () => {
      this.sinks = this.sinks.filter((s) => s !== sink);
    };
  }

  http(record: HttpRecord): void {
    for (const sink of this.sinks) this.guard(sink, () => sink.http?.(record));
  }

  tcp(record: TcpRecord): void {
    for (const sink of this.sinks) this.guard(sink, () => sink.tcp?.(record));
  }

  tcpOpened(direction: Direction, source: string, destination: string): void {
    for (const sink of this.sinks) this.guard(sink, () => sink.tcpOpened?.(direction, source, destination));
  }

  resilience(event: ResilienceEvent): void {
    for (const sink of this.sinks) this.guard(sink, () => sink.resilience?.(event));
  }

  private guard(sink: TelemetrySink, deliver: () => void): void {
    try {
      deliver();
    } catch (error) {
      // Telemetry must never fail a request; a broken sink says so and the traffic goes on.
      this.log(`telemetry sink ${sink.constructor.name} failed: ${(error as Error).message}`);
    }
  }
}
