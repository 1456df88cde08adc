// What a hop's span says, from its record: golden shapes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { localService, spanShape } from '../../../src/proxy/telemetry/span-attributes.ts';
import { pathOnly } from '../../../src/lib/http/path-normalize.ts';
import type { HttpRecord } from '../../../src/proxy/telemetry/records.ts';

const base: HttpRecord = {
  direction: 'outbound', protocol: 'http', source: 'frontend', destination: 'api', route: 'canary', endpoint: 'api-2',
  method: 'GET', path: '/items?x=1', status: 200, mtls: true, startedAt: 1_000, durationMs: 3, requestBytes: 0, responseBytes: 10, attempts: 1, requestId: 'r-1',
};

test('an outbound 200: a CLIENT span with the route, the endpoint and the peer service, status unset', () => {
  assert.deepEqual(spanShape(base, 'host-1'), {
    name: 'GET api',
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': 'GET', 'url.path': '/items', 'http.response.status_code': 200,
      'network.protocol.name': 'http', 'network.protocol.version': '1.1',
      'meshctl.direction': 'outbound', 'meshctl.source': 'frontend', 'meshctl.destination': 'api', 'meshctl.node': 'host-1', 'meshctl.mtls': true,
      'peer.service': 'api', 'meshctl.route': 'canary', 'meshctl.endpoint': 'api-2', 'meshctl.request_id': 'r-1', 'meshctl.attempts': 1,
    },
    status: { code: SpanStatusCode.UNSET },
  });
});

test('statuses: 5xx and mesh failures are errors with their cause; an app 4xx is not', () => {
  const cases: Array<[string, Partial<HttpRecord>, { code: SpanStatusCode; message?: string }, string | undefined]> = [
    ['app 404', { status: 404 }, { code: SpanStatusCode.UNSET }, undefined],
    ['app 500', { status: 500 }, { code: SpanStatusCode.ERROR, message: 'upstream answered 500' }, '500'],
    ['no answer', { status: 0 }, { code: SpanStatusCode.ERROR, message: 'no response' }, 'no_response'],
    ['mesh 503', { status: 503, failure: { cause: 'no_healthy_endpoints', hop: 'outbound', service: 'api' } }, { code: SpanStatusCode.ERROR, message: 'no_healthy_endpoints' }, 'no_healthy_endpoints'],
    ['breaker', { status: 503, failure: { cause: 'circuit_breaker', hop: 'outbound', service: 'api', policy: 'max_requests' } }, { code: SpanStatusCode.ERROR, message: 'circuit_breaker: max_requests' }, 'circuit_breaker'],
    ['intention 403', { direction: 'inbound', status: 403, failure: { cause: 'intention_denied', hop: 'inbound', service: 'api', policy: 'intention web -> api', detail: 'denied' } }, { code: SpanStatusCode.ERROR, message: 'intention_denied: intention web -> api: denied' }, 'intention_denied'],
  ];
  for (const [name, change, status, errorType] of cases) {
    const shape = spanShape({ ...base, ...change }, 'n');
    assert.deepEqual(shape.status, status, name);
    assert.equal(shape.attributes['error.type'], errorType, name);
  }
});

test('an inbound HTTP/2 hop is a SERVER span of the callee, with the gRPC status', () => {
  const shape = spanShape({ direction: 'inbound', protocol: 'grpc', source: '', destination: 'db', endpoint: 'db-1', method: 'POST', path: '/db.Db/Get', status: 200, grpcStatus: 5, mtls: false, startedAt: 0, durationMs: 1, requestBytes: 0, responseBytes: 0 }, 'host-3');
  assert.equal(shape.kind, SpanKind.SERVER);
  assert.equal(shape.attributes['network.protocol.version'], '2');
  assert.equal(shape.attributes['rpc.grpc.status_code'], 5);
  assert.equal(shape.attributes['peer.service'], undefined);
  assert.equal(localService('inbound', '', 'db'), 'db');
  assert.equal(localService('outbound', 'frontend', 'api'), 'frontend');
  assert.equal(localService('outbound', '', 'api'), 'meshctl-proxy');
});

test('url.path is the path alone: a query (tokens, ids) never reaches the collector', () => {
  const cases: Array<[string, string]> = [
    ['/items?x=1', '/items'],
    ['/login?token=secret&next=/home', '/login'],
    ['/a/b', '/a/b'],
    ['/?', '/'],
    ['/page#frag', '/page'],
    ['?only=query', ''],
    ['', ''],
  ];
  for (const [target, want] of cases) assert.equal(pathOnly(target), want, target);
  const shape = spanShape({ ...base, path: '/reset?token=abc123' }, 'host-1');
  assert.equal(shape.attributes['url.path'], '/reset');
  assert.equal(JSON.stringify(shape).includes('abc123'), false, 'nowhere in the span');
});
