// HTTP/2 and gRPC through the proxy (loopback, test/helpers/proxy-bed.ts):
// h2c from the app, HTTP/2 between the hops, streaming both ways, and the
// grpc-status trailers of the app (and of the mesh) kept.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { echoClient, grpc, startEchoServer } from '../helpers/grpc-echo.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';

let servers: Array<{ port: number; close: () => void }>;
let bed: ProxyBed;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let client: any;

before(async () => {
  servers = [await startEchoServer('g1'), await startEchoServer('g2')];
  bed = await startProxyBed('echo', servers.map((s, i) => ({ id: `g${i + 1}`, port: s.port })), { protocol: 'grpc', load_balancer: { policy: 'round_robin' } });
  client = echoClient(bed.upstreamPort);
});
after(async () => {
  client?.close();
  await bed?.close();
  for (const s of servers ?? []) s.close();
});

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
