// Routes for gRPC (HTTP/2) services, on the in-process bed with real
// @grpc/grpc-js servers and client: a weighted split over subsets, a
// metadata (header) match, a method (path) match, an injected abort answered
// as a gRPC status, a route's timeout as the call's deadline, header edits
// the app sees, and the route's name on each stage's record.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compileRoutes } from '../../src/config/route-table.ts';
import type { HttpRecord } from '../../src/proxy/telemetry/records.ts';
import { closeGrpcBed, echoClient, grpc, startEchoServer } from '../helpers/grpc-echo.ts';
import { startProxyBed, type BedInstance, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';

let servers: Array<{ port: number; close: () => void }>;
let instances: BedInstance[];
let bed: ProxyBed;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let client: any;
const records: HttpRecord[] = [];
const GRPC = { protocol: 'grpc' } as const;

const ROUTERS = [
  {
    Name: 'echo',
    Config: {
      Version: 1,
      Routes: [
        { Name: 'canary', Match: { Header: [{ Name: 'x-canary', Exact: '1' }] }, Destination: { Split: [{ Subset: 'v2', Weight: 100 }] } },
        { Name: 'broken', Match: { PathExact: '/meshtest.Echo/Fail' }, Fault: { Abort: { Status: 503, Percent: 100 } }, Destination: { Split: [{ Weight: 100 }] } },
        { Name: 'slow', Match: { Header: [{ Name: 'x-slow', Present: true }] }, Timeout: '100ms', Fault: { Delay: { Duration: '400ms', Percent: 100 } }, Destination: { Split: [{ Weight: 100 }] } },
        { Name: 'edited', Match: { Header: [{ Name: 'x-edit', Present: true }] }, RequestHeaders: { Set: { 'x-version': 'v2' }, Add: { 'user-agent': 'meshctl-route', 'x-tag': 'routed' }, Remove: ['x-secret'] }, Destination: { Split: [{ Subset: 'v1', Weight: 100 }] } },
        { Name: 'chat-deadline', Match: { PathExact: '/meshtest.Echo/Chat', Header: [{ Name: 'x-deadline', Present: true }] }, Timeout: '1s', Destination: { Split: [{ Weight: 100 }] } },
        { Name: 'split', Destination: { Split: [{ Subset: 'v1', Weight: 90 }, { Subset: 'v2', Weight: 10 }] } },
      ],
    },
  },
];
const RESOLVERS = [{ Name: 'echo', Config: { Subsets: { v1: { Filter: { Tags: ['v1'] } }, v2: { Filter: { Tags: ['v2'] } } } } }];

before(async () => {
  servers = [await startEchoServer('v1-a'), await startEchoServer('v1-b'), await startEchoServer('v2-a')];
  instances = [
    { id: 'v1-a', port: servers[0]!.port, tags: ['v1'] },
    { id: 'v1-b', port: servers[1]!.port, tags: ['v1'] },
    { id: 'v2-a', port: servers[2]!.port, tags: ['v2'] },
  ];
  bed = await startProxyBed('echo', instances, GRPC);
  await bed.set(instances, GRPC, undefined, compileRoutes(ROUTERS, RESOLVERS));
  bed.proxy.telemetry.add({ http: (r) => void records.push(r) });
  client = echoClient(bed.upstreamPort);
});
after(() => closeGrpcBed({ client, bed, servers }));

const say = (text: string, metadata: Record<string, string> = {}) =>
  new Promise<{ text: string; served_by: string }>((resolve, reject) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    client.Say({ text }, md, (error: Error | null, reply: { text: string; served_by: string }) => (error ? reject(error) : resolve(reply)));
  });

test('a 90/10 split over subsets holds within 3 points over 2,000 calls, and never leaves them', async () => {
  const counts = new Map<string, number>();
  for (let batch = 0; batch < 20; batch++) {
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => say(`call ${batch * 100 + i}`)));
    for (const r of replies) counts.set(r.served_by, (counts.get(r.served_by) ?? 0) + 1);
  }
  const v1 = (counts.get('v1-a') ?? 0) + (counts.get('v1-b') ?? 0);
  const v2 = counts.get('v2-a') ?? 0;
  assert.equal(v1 + v2, 2000, `only the subsets' instances answer: ${JSON.stringify([...counts])}`);
  assert.ok(Math.abs(v2 / 2000 - 0.1) <= 0.03, `v2 took ${v2} of 2,000`);
  assert.ok((counts.get('v1-a') ?? 0) > 0 && (counts.get('v1-b') ?? 0) > 0, 'v1 is balanced over both its instances');
});

test('a metadata match sends the call to its subset; the record names the route', async () => {
  records.length = 0;
  const replies = await Promise.all(Array.from({ length: 20 }, () => say('canary', { 'x-canary': '1' })));
  assert.deepEqual(new Set(replies.map((r) => r.served_by)), new Set(['v2-a']));
  await waitFor(() => records.filter((r) => r.direction === 'outbound').length >= 20, 5000, 'the outbound records');
  assert.deepEqual(new Set(records.filter((r) => r.direction === 'outbound').map((r) => r.route)), new Set(['canary']));
});

test('an injected abort is answered by the caller-side proxy as UNAVAILABLE, naming the route; the app never sees it', async () => {
  await assert.rejects(
    new Promise((resolve, reject) => client.Fail({ text: 'x' }, (error: Error | null, reply: unknown) => (error ? reject(error) : resolve(reply)))),
    (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.UNAVAILABLE);
      assert.match(error.details, /fault injected by route broken/);
      assert.match(String(error.metadata.get('x-mesh-fault')[0]), /^abort; route=broken; status=503/);
      return true;
    },
  );
});

test("a route's timeout is the call's deadline: DEADLINE_EXCEEDED, with the mesh's reason, and the record says request_timeout", async () => {
  records.length = 0;
  const startedAt = Date.now();
  await assert.rejects(say('slow', { 'x-slow': '1' }), (error: grpc.ServiceError) => {
    assert.equal(error.code, grpc.status.DEADLINE_EXCEEDED);
    assert.match(String(error.metadata.get('x-mesh-error')[0]), /^request_timeout; hop=outbound; service=echo; policy=request_timeout=100ms \(route slow\)/);
    return true;
  });
  assert.ok(Date.now() - startedAt < 400, 'answered at the deadline, not after the 400 ms delay');
  await waitFor(() => records.some((r) => r.direction === 'outbound'), 5000, 'the outbound record');
  const outbound = records.find((r) => r.direction === 'outbound')!;
  assert.deepEqual([outbound.route, outbound.failure?.cause], ['slow', 'request_timeout']);
});

test('header edits reach the app: set, add (on user-agent too, which HTTP/2 sends once: the values are combined), remove', async () => {
  const reply = await say('?metadata', { 'x-edit': '1', 'x-version': 'v1', 'x-secret': 's', 'x-tag': 'caller' });
  const seen = JSON.parse(reply.text) as Record<string, string>;
  assert.equal(seen['x-version'], 'v2');
  assert.equal(seen['x-tag'], 'caller, routed');
  assert.match(seen['user-agent'] ?? '', /^grpc-node-js\/.*, meshctl-route$/);
  assert.equal(seen['x-secret'], undefined);
});

test("a route's deadline that passes mid-stream ends the call with DEADLINE_EXCEEDED in its trailers, and the proxy lives on", async () => {
  const md = new grpc.Metadata();
  md.set('x-deadline', '1');
  const call = client.Chat(md);
  const received: string[] = [];
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    call.on('data', (m: { text: string }) => received.push(m.text));
    call.on('error', (error: grpc.ServiceError) => resolve(error));
    call.on('end', () => resolve(undefined));
  });
  call.write({ text: 'first' });
  const error = await ended;
  assert.deepEqual(received, ['FIRST'], 'the answer had started');
  assert.equal(error?.code, grpc.status.DEADLINE_EXCEEDED, `${error?.code} ${error?.details}`);
  assert.match(String(error?.metadata.get('x-mesh-error')[0]), /^request_timeout; hop=outbound; service=echo; policy=request_timeout=1000ms \(route chat-deadline\)/);
  assert.equal((await say('after')).text, 'after', 'the proxy still answers');
});
