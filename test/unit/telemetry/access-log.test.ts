// The access log's lines: each kind of record against a golden line
// (UPDATE_GOLDEN=1 rewrites them; review the diff), so a field renamed,
// dropped or reordered shows up as a diff; and what the config asks for.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { accessLogLine, accessLogSink, tcpAccessLogLine } from '../../../src/agent/telemetry/access-log.ts';
import { accessLogSettings } from '../../../src/agent/telemetry/access-log-file.ts';
import type { HttpRecord, TcpRecord } from '../../../src/proxy/telemetry/records.ts';

const GOLDEN_DIR = new URL('../golden/access-log/', import.meta.url);

function checkGolden(name: string, line: object): void {
  const text = `${JSON.stringify(line)}\n`;
  const file = new URL(`${name}.jsonl`, GOLDEN_DIR);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${name}: rerun with UPDATE_GOLDEN=1 and review the diff if the change is intended`);
}

const STARTED = Date.parse('2026-11-27T05:30:00.125Z');

const httpOk: HttpRecord = {
  direction: 'outbound', protocol: 'http', source: 'frontend', destination: 'api', route: 'api-v2-canary', endpoint: 'api-2',
  method: 'POST', path: '/orders?id=7', status: 201, mtls: true, startedAt: STARTED, durationMs: 3.14159265,
  requestBytes: 512, responseBytes: 2048, attempts: 2,
  requestId: '6f1c2b9e-7a3d-4c55-9e0f-1a2b3c4d5e6f', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7',
};

const meshFailure: HttpRecord = {
  direction: 'outbound', protocol: 'http', source: 'frontend', destination: 'api', method: 'GET', path: '/x', status: 503, mtls: true,
  startedAt: STARTED, durationMs: 0.4, requestBytes: 0, responseBytes: 87, attempts: 1, requestId: 'req-1',
  failure: { cause: 'no_healthy_endpoints', hop: 'outbound', service: 'api', policy: 'outlier_detection', detail: 'all 2 instances ejected', endpoint: 'api-1' },
};

const inboundDenied: HttpRecord = {
  direction: 'inbound', protocol: 'http', source: '', destination: 'api', endpoint: 'api-1', method: 'DELETE', path: '/admin', status: 403, mtls: false,
  startedAt: STARTED, durationMs: 0.05, requestBytes: 0, responseBytes: 0, requestId: 'req-2',
  failure: { cause: 'intention_denied', hop: 'inbound', service: 'api', policy: 'intention * -> api (deny)' },
};

const grpc: HttpRecord = {
  direction: 'inbound', protocol: 'grpc', source: 'frontend', destination: 'api', endpoint: 'api-1', method: 'POST', path: '/echo.Echo/Say', status: 200, grpcStatus: 5,
  mtls: true, startedAt: STARTED, durationMs: 12, requestBytes: 17, responseBytes: 5, requestId: 'req-3', traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
};

const tcpOk: TcpRecord = { direction: 'inbound', source: 'api', destination: 'db', endpoint: 'db-1', mtls: true, startedAt: STARTED, durationMs: 60_000.5, bytesSent: 4096, bytesReceived: 1_048_576 };

const tcpFailed: TcpRecord = {
  direction: 'outbound', source: 'api', destination: 'db', mtls: true, startedAt: STARTED, durationMs: 1000, bytesSent: 0, bytesReceived: 0,
  failure: { cause: 'connect_failure', hop: 'outbound', service: 'db', endpoint: 'db-2', detail: 'ECONNREFUSED' },
};

const cases: Array<[string, () => object]> = [
  ['http-ok', () => accessLogLine(httpOk)],
  ['http-mesh-failure', () => accessLogLine(meshFailure)],
  ['http-inbound-denied', () => accessLogLine(inboundDenied)],
  ['grpc', () => accessLogLine(grpc)],
  ['tcp-ok', () => tcpAccessLogLine(tcpOk)],
  ['tcp-connect-failure', () => tcpAccessLogLine(tcpFailed)],
];
for (const [name, line] of cases) {
  test(`the ${name} line matches its golden file`, () => checkGolden(name, line()));
}

test('a mesh failure names its cause, hop, policy and detail; the endpoint falls back to the failure’s', () => {
  const line = accessLogLine(meshFailure);
  assert.deepEqual([line.cause, line.hop, line.policy, line.detail, line.endpoint], ['no_healthy_endpoints', 'outbound', 'outlier_detection', 'all 2 instances ejected', 'api-1']);
});

test('a successful request carries no failure fields at all (absent, not null)', () => {
  const line = accessLogLine(httpOk);
  for (const key of ['cause', 'hop', 'policy', 'detail', 'grpcStatus']) assert.equal(key in line, false, key);
  assert.equal(line.durationMs, 3.142, 'durations to the microsecond');
});

test('the sink turns each HTTP and TCP record into one line', () => {
  const lines: object[] = [];
  const sink = accessLogSink((line) => lines.push(line));
  sink.http?.(httpOk);
  sink.tcp?.(tcpOk);
  sink.resilience?.({ kind: 'retry', service: 'api', endpoint: 'api-1' });
  assert.deepEqual(lines, [accessLogLine(httpOk), tcpAccessLogLine(tcpOk)]);
});

test('the config: on by default in the agent state dir, a path and rotation of its own, or off', () => {
  assert.deepEqual(accessLogSettings({ dataDir: '/var/lib/meshctl' }), { path: '/var/lib/meshctl/agent/access.log', maxBytes: 100 * 1024 * 1024, keep: 5 });
  assert.deepEqual(accessLogSettings({ dataDir: '/d', accessLog: { path: '/var/log/mesh/access.log', maxBytes: 4096, keep: 2 } }), { path: '/var/log/mesh/access.log', maxBytes: 4096, keep: 2 });
  assert.equal(accessLogSettings({ dataDir: '/d', accessLog: 'off' }), undefined);
});
