// HTTP/2 and gRPC through the proxy (loopback, test/helpers/proxy-bed.ts):
// h2c from the app, HTTP/2 between the hops, streaming both ways, and the
// grpc-status trailers of the app (and of the mesh) kept.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeGrpcBed, echoClient, grpc, startEchoServer } from '../helpers/grpc-echo.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';
import type { HttpRecord } from '../../src/proxy/telemetry/records.ts';

let servers: Array<{ port: number; close: () => void }>;
let bed: ProxyBed;
const records: HttpRecord[] = [];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let client: any;

before(async () => {
  servers = [await startEchoServer('g1'), await startEchoServer('g2')];
  bed = await startProxyBed('echo', servers.map((s, i) => ({ id: `g${i + 1}`, port: s.port })), { protocol: 'grpc', load_balancer: { policy: 'round_robin' } });
  bed.proxy.telemetry.add({ http: (r) => void records.push(r) });
  client = echoClient(bed.upstreamPort);
});
after(() => closeGrpcBed({ client, bed, servers }));

const unary = (method: string, text: string) =>
  new Promise<{ text: string; served_by: string }>((resolve, reject) => client[method]({ text }, (error: Error | null, reply: { text: string; served_by: string }) => (error ? reject(error) : resolve(reply))));

test('unary calls go through both hops and are balanced', async () => {
  const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => unary('Say', `hello ${i}`)));
  assert.deepEqual(replies.map((r) => r.text), Array.from({ length: 10 }, (_, i) => `hello ${i}`));
  assert.deepEqual(new Set(replies.map((r) => r.served_by)), new Set(['g1', 'g2']));
});

test('a bidirectional stream carries every message both ways', async () => {
  const call = client.Chat();
  const received: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (m: { text: string }) => received.push(m.text));
    call.on('end', resolve);
    call.on('error', reject);
  });
  for (let i = 0; i < 50; i++) call.write({ text: `m${i}` });
  call.end();
  await done;
  assert.deepEqual(received, Array.from({ length: 50 }, (_, i) => `M${i}`));
});

test("the app's gRPC status and message arrive in the trailers", async () => {
  await assert.rejects(unary('Fail', 'x'), (error: grpc.ServiceError) => {
    assert.equal(error.code, grpc.status.PERMISSION_DENIED);
    assert.equal(error.details, 'no, from the app');
    return true;
  });
});

test('with no instance, the mesh answers UNAVAILABLE and names the cause', async () => {
  await bed.set([], { protocol: 'grpc' });
  try {
    await assert.rejects(unary('Say', 'x'), (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.UNAVAILABLE);
      assert.match(String(error.metadata.get('x-mesh-error')[0]), /^no_healthy_endpoints; hop=outbound; service=echo/);
      return true;
    });
  } finally {
    await bed.set(servers.map((s, i) => ({ id: `g${i + 1}`, port: s.port })), { protocol: 'grpc', load_balancer: { policy: 'round_robin' } });
  }
});

test("each stage's record of a gRPC call carries its status and the DATA bytes each way", async () => {
  records.length = 0;
  const reply = await unary('Say', 'hello records');
  // gRPC frames a message in 5 bytes; Say's request is text (1+1+13), its answer text and served_by (1+1+13 + 1+1+2).
  const expected = { requestBytes: 5 + 15, responseBytes: 5 + 15 + 4 };
  assert.equal(reply.served_by.length, 2);
  await waitFor(() => records.length >= 2, 5000, 'a record from each stage');
  for (const direction of ['outbound', 'inbound'] as const) {
    const r = records.find((x) => x.direction === direction);
    assert.ok(r, `a ${direction} record`);
    assert.deepEqual({ path: r.path, status: r.status, grpcStatus: r.grpcStatus, requestBytes: r.requestBytes, responseBytes: r.responseBytes }, { path: '/meshtest.Echo/Say', status: 200, grpcStatus: 0, ...expected }, direction);
  }
});

test('a bidirectional stream counts every message it relayed', async () => {
  records.length = 0;
  const call = client.Chat();
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', () => {});
    call.on('end', resolve);
    call.on('error', reject);
  });
  for (let i = 0; i < 20; i++) call.write({ text: 'abcdefghij' });
  call.end();
  await done;
  await waitFor(() => records.length >= 2, 5000, 'a record from each stage');
  // Each message in: 5 + (1+1+10); each out also carries served_by (1+1+2).
  for (const r of records) assert.deepEqual([r.direction, r.requestBytes, r.responseBytes], [r.direction, 20 * 17, 20 * 21]);
});
