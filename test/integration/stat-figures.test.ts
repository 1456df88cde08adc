// `meshctl stat` prints the edges of every figure rule (src/lib/stats/format.ts)
// and passes the answer through --json untouched. The real built CLI reads a
// small HTTP server on port 0 that answers GET /v1/mesh/stats with figures a
// real server only reaches under hours of load (a 99.996% success rate, a
// trickle of 0.00004 rps): the rules are about those values, and the server's
// own side is tested with real traffic in stats-api.test.ts and
// test/e2e/stat.test.ts.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { StatsAnswer } from '../../src/lib/stats/answer.ts';
import { NO_TCP, STATS } from '../fixtures/dashboard-stats.ts';
import { cliFor } from '../helpers/cli.ts';

const TOKEN = 'stat-figures-reader';

/** The dashboard's fixture with other rows: every rule's edge. */
const ANSWER: StatsAnswer = {
  ...STATS,
  window: '10m',
  windowSeconds: 600,
  coveredSeconds: 600,
  services: [
    { service: 'almost', instances: { healthy: 3, total: 3 }, requests: 25_000, rps: 1234.5, successRate: 0.99996, latencyMs: { p50: 0.42, p95: 99.96, p99: 15_000 }, tcp: { ...NO_TCP, open: 123_456 } },
    { service: 'failing', instances: { healthy: 1, total: 2 }, requests: 25_000, rps: 41.667, successRate: 0.00004, latencyMs: { p50: 1, p95: 2, p99: 3 }, tcp: NO_TCP },
    { service: 'idle', instances: { healthy: 0, total: 1 }, requests: 0, rps: 0, successRate: null, latencyMs: null, tcp: NO_TCP },
    { service: 'perfect', instances: { healthy: 1, total: 1 }, requests: 7, rps: 0.012, successRate: 1, latencyMs: { p50: 7.9, p95: 41.5, p99: 120.4 }, tcp: { ...NO_TCP, open: 2 } },
    { service: 'trickle', instances: { healthy: 1, total: 1 }, requests: 1, rps: 0.00004, successRate: 0, latencyMs: { p50: 5, p95: 5, p99: 5 }, tcp: NO_TCP },
  ],
  edges: [
    { source: '', destination: 'almost', requests: 25_000, rps: 1234.5, successRate: 0.99996, latencyMs: { p50: 1, p95: 2, p99: 9999.6 }, tcp: { open: 0, opened: 0 } },
    { source: 'perfect', destination: 'trickle', requests: 1, rps: 0.00004, successRate: 0, latencyMs: null, tcp: { open: 0, opened: 0 } },
  ],
};

let standIn: Server;
let address = '';
const asked: string[] = [];
const cli = cliFor(() => ({ address, token: TOKEN }));

before(async () => {
  standIn = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    asked.push(`${url.pathname}?${url.searchParams}`);
    if (req.headers['x-consul-token'] !== TOKEN) return void res.writeHead(403, { 'content-type': 'text/plain' }).end('ACL not found');
    if (url.pathname !== '/v1/mesh/stats') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ANSWER));
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  address = `127.0.0.1:${(standIn.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => standIn.close(() => resolve())));

const stat = async (args: string[]) => {
  const r = await cli.runAsync(['stat', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

test('the service table: never 100% below it, never 0% or idle above it, large figures shortened', async () => {
  assert.equal(
    await stat(['--window', '10m']),
    [
      'NAME     MESHED  SUCCESS  RPS       LATENCY_P50  LATENCY_P95  LATENCY_P99  TCP_CONN',
      'almost   3/3     99.99%   1.2krps   0.42ms       100ms        15.0s        123k',
      'failing  1/2     0.01%    41.7rps   1.0ms        2.0ms        3.0ms        0',
      'idle     0/1     -        0rps      -            -            -            0',
      'perfect  1/1     100.00%  0.01rps   7.9ms        41.5ms       120ms        2',
      'trickle  1/1     0.00%    <0.01rps  5.0ms        5.0ms        5.0ms        0',
      '',
    ].join('\n'),
  );
  assert.equal(asked.at(-1), '/v1/mesh/stats?window=10m');
});

test('the edges table writes its figures the same way', async () => {
  assert.equal(
    // The stand-in answers every edge; the server would keep those of the service asked for.
    await stat(['--edges', 'almost']),
    [
      'SRC → DST                    RPS       SUCCESS  LATENCY_P99',
      '(outside the mesh) → almost  1.2krps   99.99%   10.0s',
      'perfect → trickle            <0.01rps  0.00%    -',
      '',
    ].join('\n'),
  );
  assert.equal(asked.at(-1), '/v1/mesh/stats?window=1m&service=almost', 'the default window, and the service asked for');
});

test('--json is the answer as it came: raw numbers, nothing rounded', async () => {
  assert.deepEqual(JSON.parse(await stat(['--json', '--window', '10s'])), ANSWER);
  assert.equal(asked.at(-1), '/v1/mesh/stats?window=10s');
});

test('an unknown window is a usage error naming the windows there are, before anything is asked', async () => {
  const before = asked.length;
  const r = await cli.runAsync(['stat', '--window', '5m']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: invalid --window "5m" (give one of 10s, 1m, 10m)\n');
  assert.equal(asked.length, before);
});
