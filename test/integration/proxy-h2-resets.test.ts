// HTTP/2 streams that end badly, through both stages of the in-process bed:
// callers that cancel just as the answer comes, and a route's deadline that
// passes after the answer started. Each is a stream reset, never the agent's
// end: an uncaught exception here fails the file, which is the point.

import assert from 'node:assert/strict';
import { connect, constants, createServer, type Http2Server } from 'node:http2';
import { after, before, test } from 'node:test';
import { compileRoutes } from '../../src/config/route-table.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';

let app: Http2Server;
let bed: ProxyBed;
const uncaught: string[] = [];
const onUncaught = (error: Error) => void uncaught.push(`${(error as NodeJS.ErrnoException).code} ${error.message}`);

before(async () => {
  process.on('uncaughtException', onUncaught);
  app = createServer();
  // x-delay: answers after that many ms; x-slow-body: sends its headers and a first chunk at once, the rest 1.5 s later.
  app.on('stream', (s, h) => {
    s.on('error', () => {});
    if (h['x-slow-body']) {
      s.respond({ ':status': 200 });
      s.write('first');
      return void setTimeout(() => s.closed || s.end('rest'), 1500);
    }
    setTimeout(() => s.closed || (s.respond({ ':status': 200 }), s.end('ok')), Number(h['x-delay'] ?? 0));
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const instances = [{ id: 'a', port: (app.address() as { port: number }).port }];
  bed = await startProxyBed('web', instances, { protocol: 'http2' });
  await bed.set(instances, { protocol: 'http2' }, undefined, compileRoutes([{ Name: 'web', Config: { Version: 1, Routes: [{ Name: 'short', Match: { PathPrefix: '/short' }, Timeout: '500ms', Destination: { Split: [{ Weight: 100 }] } }] } }], []));
});
after(async () => {
  process.off('uncaughtException', onUncaught);
  await bed?.close();
  app?.close();
});

function get(path: string, headers: Record<string, string>, cancelAfterMs?: number): Promise<{ status: number; body: string; rstCode: number | undefined }> {
  const client = connect(`http://127.0.0.1:${bed.upstreamPort}`);
  client.on('error', () => {});
  return new Promise((resolve) => {
    const req = client.request({ ':path': path, ...headers });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('error', () => {});
    req.on('close', () => {
      client.close();
      resolve({ status, body, rstCode: req.rstCode });
    });
    if (cancelAfterMs !== undefined) setTimeout(() => req.close(constants.NGHTTP2_CANCEL), cancelAfterMs);
    req.end();
  });
}

test('1,200 streams cancelled by their callers around the moment the answer comes: no uncaught error, and the proxy still answers', async () => {
  const client = connect(`http://127.0.0.1:${bed.upstreamPort}`);
  client.on('error', () => {});
  for (let round = 0; round < 30; round++) {
    await Promise.all(Array.from({ length: 40 }, (_, i) => new Promise<void>((resolve) => {
      const req = client.request({ ':path': '/', 'x-delay': String(17 + (i % 5)) });
      req.on('error', () => {});
      req.on('close', () => resolve());
      setTimeout(() => req.close(constants.NGHTTP2_CANCEL), 20);
      req.resume();
      req.end();
    })));
  }
  client.close();
  assert.deepEqual(uncaught, []);
  assert.deepEqual(await get('/', {}), { status: 200, body: 'ok', rstCode: 0 });
});

test("a route's deadline that passes after the answer started cancels the stream (plain HTTP/2 has no trailer status), and the proxy lives on", async () => {
  const cut = await get('/short', { 'x-slow-body': '1' });
  assert.deepEqual([cut.status, cut.body, cut.rstCode], [200, 'first', constants.NGHTTP2_CANCEL]);
  const before = await get('/short', { 'x-delay': '1500' });
  assert.equal(before.status, 504, 'before any answer: the mesh answers 504');
  assert.deepEqual(uncaught, []);
  assert.deepEqual(await get('/', {}), { status: 200, body: 'ok', rstCode: 0 });
});
