// The proxy's HTTP/1.1 path on loopback (test/helpers/proxy-bed.ts): keep-alive,
// chunked bodies, 100-continue, WebSocket-style upgrades, retries, per-try
// timeouts, circuit breaking, ejection, and mesh errors that name their cause.

import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';

interface App {
  id: string;
  port: number;
  server: Server;
  hits: number;
  mode: 'ok' | 'fail' | 'slow' | 'flaky';
}

async function startApp(id: string): Promise<App> {
  const app: App = { id, port: 0, server: createServer(), hits: 0, mode: 'ok' };
  let flip = false;
  app.server.on('request', (req: IncomingMessage, res) => {
    app.hits += 1;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      flip = !flip;
      if (app.mode === 'fail' || (app.mode === 'flaky' && flip)) {
        res.writeHead(503, { 'x-app': id });
        res.end('app says no');
        return;
      }
      const answer = () => {
        res.writeHead(200, { 'x-app': id, 'content-type': 'application/json' });
        res.end(JSON.stringify({ id, method: req.method, url: req.url, body: Buffer.concat(chunks).toString(), headers: req.headers }));
      };
      if (app.mode === 'slow') setTimeout(answer, 400);
      else answer();
    });
  });
  app.server.on('upgrade', (req, socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\nx-app: ${id}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
  });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  app.port = (app.server.address() as { port: number }).port;
  return app;
}

function get(port: number, path = '/', options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

let apps: App[];
let bed: ProxyBed;
const http = { protocol: 'http', retries: { num_retries: 2 } };

before(async () => {
  apps = await Promise.all(['a', 'b', 'c'].map(startApp));
  bed = await startProxyBed('web', apps.map((a) => ({ id: a.id, port: a.port })), http);
});
after(async () => {
  await bed?.close();
  for (const app of apps ?? []) app.server.close();
});

const reset = async (defaults: Record<string, unknown> = http) => {
  for (const app of apps) {
    app.mode = 'ok';
    app.hits = 0;
  }
  await bed.set(apps.map((a) => ({ id: a.id, port: a.port })), defaults);
};

describe('forwarding', () => {
  test('requests reach the apps through both hops, with method, path, body and headers intact', async () => {
    await reset({ ...http, load_balancer: { policy: 'round_robin' } });
    const r = await get(bed.upstreamPort, '/hello?x=1', { method: 'POST', headers: { 'x-custom': 'yes', 'content-type': 'text/plain' }, body: 'payload' });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { method: string; url: string; body: string; headers: Record<string, string> };
    assert.deepEqual([seen.method, seen.url, seen.body, seen.headers['x-custom']], ['POST', '/hello?x=1', 'payload', 'yes']);
  });

  test('round_robin spreads requests evenly', async () => {
    await reset({ ...http, load_balancer: { policy: 'round_robin' } });
    for (let i = 0; i < 300; i++) await get(bed.upstreamPort);
    assert.deepEqual(apps.map((a) => a.hits), [100, 100, 100]);
  });

  test('chunked request bodies arrive whole', async () => {
    await reset();
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: bed.upstreamPort, method: 'PUT', path: '/chunks' }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write('one,');
      req.write('two,');
      req.end('three');
    });
    assert.equal((JSON.parse(body) as { body: string }).body, 'one,two,three');
  });

  test('Expect: 100-continue gets its 100 and the body goes through', async () => {
    await reset();
    const result = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = request({ host: '127.0.0.1', port: bed.upstreamPort, method: 'POST', path: '/upload', headers: { expect: '100-continue', 'content-length': '5' } });
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve({ continued, body: text }));
      });
      req.on('error', reject);
    });
    assert.equal(result.continued, true);
    assert.equal((JSON.parse(result.body) as { body: string }).body, 'hello');
  });

  test('an upgrade (WebSocket-style) is spliced through both hops', async () => {
    await reset();
    const echoed = await new Promise<string>((resolve, reject) => {
      const socket = connect(bed.upstreamPort, '127.0.0.1', () => socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n'));
      let data = '';
      socket.on('data', (d: Buffer) => {
        data += d.toString();
        if (data.includes('\r\n\r\n') && !data.includes('PING')) socket.write('ping');
        if (data.includes('PING')) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on('error', reject);
    });
    assert.match(echoed, /^HTTP\/1\.1 101/);
    assert.match(echoed, /PING$/);
  });
});

describe('resilience', () => {
  test('retries hide a failing instance, and it is ejected after 5 consecutive errors', async () => {
    await reset({ ...http, load_balancer: { policy: 'round_robin' } });
    apps[1]!.mode = 'fail';
    let ok = 0;
    for (let i = 0; i < 60; i++) if ((await get(bed.upstreamPort)).status === 200) ok += 1;
    assert.equal(ok, 60, 'every request succeeded through retries');
    const failingHits = apps[1]!.hits;
    assert.ok(failingHits <= 6, `the failing instance stopped getting traffic once ejected (${failingHits} hits)`);
  });

  test('a slow instance trips the per-try timeout and the retry goes elsewhere', async () => {
    await reset({ ...http, load_balancer: { policy: 'round_robin' }, retries: { num_retries: 2, per_try_timeout: '100ms' } });
    // Warm the pools first: the per-try timeout is for the app's answer, not for a loaded machine's first mTLS handshakes.
    await Promise.all(Array.from({ length: 9 }, () => get(bed.upstreamPort)));
    apps[0]!.mode = 'slow';
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 9 }, () => get(bed.upstreamPort)));
    assert.deepEqual(results.map((r) => r.status), Array(9).fill(200));
    assert.ok(results.every((r) => r.headers['x-app'] !== 'a'), 'no answer came from the slow instance');
    assert.ok(Date.now() - started < 2000);
  });

  test('with no retries left, the mesh error names the cause, the hop, the policy and the endpoint', async () => {
    await reset({ ...http, retries: { num_retries: 0, per_try_timeout: '100ms' } });
    for (const app of apps) app.mode = 'slow';
    const r = await get(bed.upstreamPort);
    assert.equal(r.status, 504);
    assert.match(String(r.headers['x-mesh-error']), /^upstream_timeout; hop=outbound; service=web; policy=per_try_timeout=100ms; attempts=1; .*; endpoint=local\/[abc]$/);
    assert.match(r.body, /upstream timeout \(outbound proxy, service web, endpoint local\/[abc]/);
  });

  test('an app that is down is reported by the inbound hop, and retried elsewhere', async () => {
    await reset({ ...http, load_balancer: { policy: 'round_robin' }, retries: { num_retries: 0 } });
    const dead = await startApp('dead');
    dead.server.close();
    await bed.set([{ id: 'dead', port: dead.port }], { ...http, retries: { num_retries: 0 } });
    const r = await get(bed.upstreamPort);
    assert.equal(r.status, 502);
    assert.match(String(r.headers['x-mesh-error']), /^local_app_unreachable; hop=inbound; service=web; endpoint=127\.0\.0\.1:\d+$/);
  });

  test('over max_requests, the overflow gets a 503 naming the circuit breaker', async () => {
    await reset({ ...http, circuit_breaker: { max_requests: 2 } });
    for (const app of apps) app.mode = 'slow';
    const results = await Promise.all(Array.from({ length: 5 }, () => get(bed.upstreamPort)));
    const overflow = results.filter((r) => r.status === 503);
    assert.equal(overflow.length, 3);
    assert.match(String(overflow[0]!.headers['x-mesh-error']), /^circuit_breaker; hop=outbound; service=web; policy=max_requests=2$/);
  });

  test('requests that would wait for a full pool beyond max_pending_requests get a 503 naming it', async () => {
    await reset();
    apps[0]!.mode = 'slow';
    await bed.set([{ id: apps[0]!.id, port: apps[0]!.port }], { ...http, circuit_breaker: { max_connections: 1, max_pending_requests: 1 } });
    const first = get(bed.upstreamPort);
    await waitFor(() => apps[0]!.hits === 1, 2000, 'the first request to hold the one connection');
    const results = await Promise.all([first, get(bed.upstreamPort), get(bed.upstreamPort)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 503]);
    assert.match(String(results.find((r) => r.status === 503)!.headers['x-mesh-error']), /^circuit_breaker; hop=outbound; service=web; policy=max_pending_requests=1; endpoint=local\/a$/);
    await reset();
  });

  test('the request timeout ends an attempt in flight, and an abandoned request frees its slot', async () => {
    await reset({ ...http, timeouts: { request: '150ms' }, retries: { num_retries: 0 }, circuit_breaker: { max_requests: 1 } });
    for (const app of apps) app.mode = 'slow';
    const started = Date.now();
    const r = await get(bed.upstreamPort);
    assert.equal(r.status, 504);
    assert.match(String(r.headers['x-mesh-error']), /^request_timeout; hop=outbound; service=web; policy=request_timeout=150ms/);
    assert.ok(Date.now() - started < 350, `answered at the timeout, not when the app did (${Date.now() - started} ms)`);
    // A caller that gives up must not keep the one max_requests slot.
    await reset({ ...http, retries: { num_retries: 0 }, circuit_breaker: { max_requests: 1 } });
    for (const app of apps) app.mode = 'slow';
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: bed.upstreamPort, path: '/' });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 50);
    });
    for (const app of apps) app.mode = 'ok';
    await waitFor(async () => (await get(bed.upstreamPort)).status === 200, 2000, 'the slot to be free again');
    await reset();
  });

  test('no instance at all is a 503 naming it, not a bare error', async () => {
    await bed.set([], http);
    const r = await get(bed.upstreamPort);
    assert.equal(r.status, 503);
    assert.match(String(r.headers['x-mesh-error']), /^no_healthy_endpoints; hop=outbound; service=web/);
    await reset();
  });
});
