// An answer that comes before the caller has finished its upload (a deny, an
// app's early 413) must not strand the caller's keep-alive connection: the
// rest of the body is dropped and the next request on the same connection is
// answered. Uploads above the outbound stage's replay buffer (64 KiB) are
// streamed, so the answer can overtake them; 5 MB here outgrows the socket
// buffers too. Raw sockets on the in-process bed (test/helpers/proxy-bed.ts).

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';
import { listenLoopback } from '../helpers/listen.ts';

let app: Server;
let bed: ProxyBed;
let appPort: number;
const DEFAULTS = { protocol: 'http', retries: { num_retries: 0 } };
const BIG = 'x'.repeat(2_500_000);

before(async () => {
  app = createServer((req, res) => {
    // /too-big answers at once, before the upload is in, as a size limit in an app would (Node then drops the rest).
    if (req.url === '/too-big') return void res.writeHead(413, { 'content-length': '8' }).end('too big\n');
    req.resume();
    req.on('end', () => res.end(`ok ${req.url}`));
  });
  appPort = await listenLoopback(app);
  bed = await startProxyBed('web', [{ id: 'web', port: appPort }], DEFAULTS, {
    defaultPolicy: 'deny',
    entries: [{ Name: 'web', Config: { Sources: [{ Name: 'web', Action: 'allow', Permissions: [{ Action: 'deny', HTTP: { PathPrefix: '/admin' } }] }] } }],
  });
});

after(async () => {
  await bed?.close();
  app.closeAllConnections();
  app.close();
});

const cases = [
  { name: 'a deny, chunked upload', path: '/admin', status: 403, chunked: true },
  { name: 'a deny, sized upload', path: '/admin', status: 403, chunked: false },
  { name: "the app's early 413, chunked upload", path: '/too-big', status: 413, chunked: true },
] as const;

for (const c of cases) {
  test(`${c.name}: the answer comes before the upload ends, and the next request on the connection is answered`, async () => {
    const socket = connect(bed.upstreamPort, '127.0.0.1');
    let data = '';
    let closed = false;
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    try {
      const head = c.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${2 * BIG.length}`;
      socket.write(`POST ${c.path} HTTP/1.1\r\nHost: web\r\n${head}\r\n\r\n${c.chunked ? `${BIG.length.toString(16)}\r\n${BIG}\r\n` : BIG}`);
      await waitFor(() => new RegExp(`^HTTP/1\\.1 ${c.status} `).test(data), 10_000, `the ${c.status} while the upload is half sent`).catch((e) => { throw new Error(`${e.message}; got ${JSON.stringify(data.slice(0, 300))} closed=${closed}`); });
      socket.write(c.chunked ? `${BIG.length.toString(16)}\r\n${BIG}\r\n0\r\n\r\n` : BIG);
      socket.write('GET /next HTTP/1.1\r\nHost: web\r\n\r\n');
      await waitFor(() => data.includes('ok /next') || closed, 10_000, `the next request's answer (so far: ${JSON.stringify(data.slice(0, 300))})`);
      assert.ok(data.includes('ok /next'), `the connection was closed instead of answering: ${JSON.stringify(data.slice(0, 300))}`);
    } finally {
      socket.destroy();
    }
  });
}
