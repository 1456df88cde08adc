// What a hop's span says, from the hop's finished record: its name, kind,
// attributes and status. Attribute names follow OpenTelemetry's stable HTTP
// and network conventions where one fits; what only the mesh knows (the two
// services, the route, the node, the hop's direction, the request id, mTLS,
// the mesh's own failure) is under `meshctl.`.
//
// `url.path` is the path alone: the query is left out, because queries carry
// tokens, session ids and e-mail addresses, and a span goes to a collector
// (often a third party) and is kept for days. Record the query in the app's
// own spans if it is wanted; the access log on the host still has it.
//
// Error status: an answer of 500 or above, or one the mesh made itself
// (x-mesh-error, including a 403 from an intention), with the cause as the
// status message, so a trace viewer shows why the hop failed; a 4xx from the
// app is the app's business and leaves the status unset.

import { SpanKind, SpanStatusCode, type Attributes, type SpanStatus } from '@opentelemetry/api';
import type { Direction, HttpRecord } from './records.ts';
import { pathOnly } from '../../lib/http/path-normalize.ts';

export interface SpanShape {
  name: string;
  kind: SpanKind;
  attributes: Attributes;
  status: SpanStatus;
}

/** Outbound (the caller's proxy) is the client side of the call; inbound (the callee's) the server side. */
export const kindOf = (direction: Direction): SpanKind => (direction === 'outbound' ? SpanKind.CLIENT : SpanKind.SERVER);

/** The span's name, known when the hop starts: "GET api" (a path would make one name per URL). */
export const spanName = (method: string, destination: string): string => `${method} ${destination}`;

/** The service a hop's span belongs to: the local app the proxy acts for. */
export const localService = (direction: Direction, source: string, destination: string): string => (direction === 'outbound' ? source : destination) || 'meshctl-proxy';

export function spanShape(record: HttpRecord, node: string): SpanShape {
  const attributes: Attributes = {
    'http.request.method': record.method,
    'url.path': pathOnly(record.path),
    'http.response.status_code': record.status,
    'network.protocol.name': 'http',
    'network.protocol.version': record.protocol === 'http' ? '1.1' : '2',
    'meshctl.direction': record.direction,
    'meshctl.source': record.source,
    'meshctl.destination': record.destination,
    'meshctl.node': node,
    'meshctl.mtls': record.mtls,
  };
  if (record.direction === 'outbound') attributes['peer.service'] = record.destination;
  if (record.route) attributes['meshctl.route'] = record.route;
  if (record.endpoint) attributes['meshctl.endpoint'] = record.endpoint;
  if (record.requestId) attributes['meshctl.request_id'] = record.requestId;
  if (record.attempts !== undefined) attributes['meshctl.attempts'] = record.attempts;
  if (record.grpcStatus !== undefined) attributes['rpc.grpc.status_code'] = record.grpcStatus;
  let status: SpanStatus = { code: SpanStatusCode.UNSET };
  if (record.failure) {
    const f = record.failure;
    attributes['error.type'] = f.cause;
    attributes['meshctl.error.cause'] = f.cause;
    attributes['meshctl.error.hop'] = f.hop;
    if (f.policy) attributes['meshctl.error.policy'] = f.policy;
    if (f.endpoint) attributes['meshctl.endpoint'] ??= f.endpoint;
    status = { code: SpanStatusCode.ERROR, message: [f.cause, f.policy, f.detail].filter(Boolean).join(': ') };
  } else if (record.status >= 500 || record.status === 0) {
    // 0: the stream closed before any answer was sent.
    attributes['error.type'] = record.status === 0 ? 'no_response' : String(record.status);
    status = { code: SpanStatusCode.ERROR, message: record.status === 0 ? 'no response' : `upstream answered ${record.status}` };
  }
  return { name: spanName(record.method, record.destination), kind: kindOf(record.direction), attributes, status };
}
