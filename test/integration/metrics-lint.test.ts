// The agent's exposition passes Prometheus's own linter (promtool, from
// Debian's prometheus package, which .ci/run installs): names, types, help
// and suffixes as Prometheus expects, with every kind of record counted.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { MetricsSink } from '../../src/agent/telemetry/metrics.ts';

test('promtool check metrics accepts the whole exposition', async () => {
  const sink = new MetricsSink({ certificates: () => [{ service: 'web', notAfter: Date.now() + 3_600_000 }], configVersion: () => 7, spans: () => ({ exported: 3, failed: 0, dropped: 0, overBudget: 1 }) });
  sink.http({ direction: 'inbound', protocol: 'http', source: 'web', destination: 'api', method: 'GET', path: '/', status: 200, mtls: true, startedAt: 0, durationMs: 2, requestBytes: 0, responseBytes: 2 });
  sink.tcpOpened('outbound', 'web', 'db');
  sink.tcp({ direction: 'outbound', source: 'web', destination: 'db', mtls: true, startedAt: 0, durationMs: 10, bytesSent: 5, bytesReceived: 7 });
  sink.resilience({ kind: 'retry', service: 'api', endpoint: 'api-1' });
  sink.resilience({ kind: 'overflow', service: 'api', limit: 'max_requests' });
  const { body } = await sink.exposition();
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  assert.equal(lint.error, undefined, 'promtool runs (Debian package prometheus)');
  assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
  assert.match(body, /^meshctl_agent_nodejs_active_handles\{/m, 'the per-type gauges stay');
});
