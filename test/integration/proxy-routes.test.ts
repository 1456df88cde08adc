// Routes in the caller's outbound stage, on the in-process bed: what the app
// receives after a prefix rewrite and header edits, and what the proxy
// answers itself (a redirect, an injected abort).

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { compileRoutes } from '../../src/config/route-table.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { listenLoopback } from '../helpers/listen.ts';

let app: Server;
let bed: ProxyBed;
let port: number;
const seen: Array<{ url: string; headers: Record<string, string | string[] | undefined> }> = [];

const ROUTES = [
  { Name: 'joined', Match: { PathPrefix: '/api/' }, PrefixRewrite: '/v2', Destination: { Split: [{ Weight: 100 }] } },
  { Name: 'contained', Match: { PathPrefix: '/up' }, PrefixRewrite: '/internal/', Destination: { Split: [{ Weight: 100 }] } },
  { Name: 'edited', Match: { PathPrefix: '/edit' }, RequestHeaders: { Set: { 'x-version': 'v2' }, Add: { 'x-added': '1' }, Remove: ['x-secret'] }, Destination: { Split: [{ Weight: 100 }] } },
  { Name: 'moved', Match: { PathExact: '/old' }, Redirect: { Path: '/new', Status: 301 } },
  { Name: 'broken', Match: { PathPrefix: '/broken' }, Fault: { Abort: { Status: 418, Percent: 100 } }, Destination: { Split: [{ Weight: 100 }] } },
];

before(async () => {
  app = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.end('ok');
  });
  port = await listenLoopback(app);
  bed = await startProxyBed('web', [{ id: 'web', port }], { protocol: 'http' });
  await bed.set([{ id: 'web', port }], { protocol: 'http' }, undefined, compileRoutes([{ Name: 'web', Config: { Version: 1, Routes: ROUTES } }], []));
});
after(async () => {
  await bed.close();
  app.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${bed.upstreamPort}${path}`, { headers, redirect: 'manual' });

test('a prefix rewrite keeps the segment boundary and cannot climb out of its prefix', async () => {
  seen.length = 0;
  await get('/api/x?q=1');
  await get('/up/a/b');
  const escaping = await get('/up../secret');
  assert.equal(escaping.status, 400, 'a path that would climb out of /internal/ is refused');
  assert.match(escaping.headers.get('x-mesh-error') ?? '', /^bad_request; hop=outbound; service=web; policy=route contained/);
  assert.deepEqual(seen.map((s) => s.url), ['/v2/x?q=1', '/internal/a/b']);
});

test('header edits reach the app: set, add, remove', async () => {
  seen.length = 0;
  await get('/edit', { 'x-version': 'v1', 'x-secret': 's' });
  const headers = seen[0]?.headers ?? {};
  assert.equal(headers['x-version'], 'v2');
  assert.equal(headers['x-added'], '1');
  assert.equal(headers['x-secret'], undefined);
});

test('a redirect and an injected abort are answered by the proxy and name the route', async () => {
  seen.length = 0;
  const moved = await get('/old?k=v');
  assert.equal(moved.status, 301);
  assert.equal(moved.headers.get('location'), '/new?k=v');
  const broken = await get('/broken');
  assert.equal(broken.status, 418);
  assert.match(broken.headers.get('x-mesh-fault') ?? '', /^abort; route=broken; status=418/);
  assert.deepEqual(seen, [], 'neither reached the app');
});
