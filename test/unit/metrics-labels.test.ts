// Record → Prometheus labels: every label from a bounded set, never the path.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpLabels, resilienceSeries, tcpRecordLabels } from '../../src/agent/telemetry/labels.ts';
import type { HttpRecord } from '../../src/proxy/telemetry/records.ts';

const base: HttpRecord = { direction: 'outbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/users/42?x=1', status: 200, mtls: true, startedAt: 0, durationMs: 3, requestBytes: 0, responseBytes: 2 };

test('an HTTP record maps to direction, services, route, code and mTLS, and nothing of the path', () => {
  const cases: Array<[string, Partial<HttpRecord>, Record<string, string>]> = [
    ['outbound, no route', {}, { direction: 'outbound', source_service: 'web', destination_service: 'api', route: '', response_code: '200', mtls: 'true' }],
    ['a named route', { route: 'canary' }, { direction: 'outbound', source_service: 'web', destination_service: 'api', route: 'canary', response_code: '200', mtls: 'true' }],
    ['inbound from outside the mesh', { direction: 'inbound', source: '', mtls: false, status: 403 }, { direction: 'inbound', source_service: '', destination_service: 'api', route: '', response_code: '403', mtls: 'false' }],
    ['a mesh 503', { status: 503, failure: { cause: 'no_healthy_endpoints', hop: 'outbound', service: 'api' } as HttpRecord['failure'] }, { direction: 'outbound', source_service: 'web', destination_service: 'api', route: '', response_code: '503', mtls: 'true' }],
    ['no status at all (the socket died)', { status: 0 }, { direction: 'outbound', source_service: 'web', destination_service: 'api', route: '', response_code: '0', mtls: 'true' }],
    ['a status outside HTTP (never a new series per value)', { status: 1234 }, { direction: 'outbound', source_service: 'web', destination_service: 'api', route: '', response_code: '0', mtls: 'true' }],
  ];
  for (const [what, change, expected] of cases) {
    const labels = httpLabels({ ...base, ...change });
    assert.deepEqual(labels, expected, what);
    assert.ok(!Object.values(labels).some((v) => v.includes('/users')), `${what}: no path in any label`);
  }
});

test('a TCP record keeps the labels it opened with (no mTLS, no endpoint), so opened − closed is per series', () => {
  assert.deepEqual(tcpRecordLabels({ direction: 'inbound', source: 'web', destination: 'redis', endpoint: 'redis-1', mtls: true, startedAt: 0, durationMs: 5, bytesSent: 10, bytesReceived: 20 }), { direction: 'inbound', source_service: 'web', destination_service: 'redis' });
});

test('resilience events name their counter and the destination, never the endpoint', () => {
  assert.deepEqual(resilienceSeries({ kind: 'retry', service: 'api', endpoint: 'api-1' }), { metric: 'retry', labels: { destination_service: 'api' } });
  assert.deepEqual(resilienceSeries({ kind: 'retry_budget_exhausted', service: 'api' }), { metric: 'retry_budget_exhausted', labels: { destination_service: 'api' } });
  assert.deepEqual(resilienceSeries({ kind: 'ejection', service: 'api', endpoint: 'api-2' }), { metric: 'ejection', labels: { destination_service: 'api' } });
  assert.deepEqual(resilienceSeries({ kind: 'overflow', service: 'api', limit: 'max_pending_requests' }), { metric: 'overflow', labels: { destination_service: 'api', limit: 'max_pending_requests' } });
});
