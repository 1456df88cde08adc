// A fault inside the proxy's outbound TCP forwarding (a rejected promise, not
// a refused connection) still ends the connection with one record, so the
// open-connection gauge the summary keeps is closed, not left open forever.

import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { SummarySink } from '../../src/agent/telemetry/summary.ts';
import { systemClock } from '../../src/lib/clock.ts';
import type { TcpRecord } from '../../src/proxy/telemetry/records.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';

let app: Server;
let bed: ProxyBed;

before(async () => {
  app = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  bed = await startProxyBed('db', [{ id: 'db-1', port: (app.address() as { port: number }).port }], { protocol: 'tcp' });
});

after(async () => {
  await bed?.close();
  app?.close();
});

test('a rejection in outbound TCP forwarding closes the connection, records it and closes the open gauge', async () => {
  const records: TcpRecord[] = [];
  const summary = new SummarySink(systemClock);
  bed.proxy.telemetry.add(summary);
  bed.proxy.telemetry.add({ tcp: (r) => void records.push(r) });
  // The fault: the balancer throws (a bug), which rejects forwardTcpOutbound's promise.
  const table = (bed.proxy as unknown as { table: { clusters: Map<string, { pick: () => unknown }> } }).table;
  const cluster = table.clusters.get('db');
  assert.ok(cluster, 'the bed has a db cluster');
  cluster.pick = () => {
    throw new Error('balancer bug');
  };
  const client = connect(bed.upstreamPort, '127.0.0.1');
  client.on('error', () => {});
  let closed = false;
  client.once('close', () => (closed = true));
  await waitFor(() => closed, 3000, 'the proxy to close the connection');
  const record = await waitFor(() => records[0], 3000, 'the TCP record');
  assert.equal(record.direction, 'outbound');
  assert.equal(record.failure?.cause, 'connect_failure');
  assert.match(record.failure?.detail ?? '', /proxy error: balancer bug/);
  assert.deepEqual(summary.openConnections(), [], 'the gauge counted the open and the close');
  assert.equal(summary.take().series.get('outbound\u0000db\u0000db')?.tcpClosed, 1);
});
