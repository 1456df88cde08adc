// The demo's sample app as a real process (src/demo/app.ts): a caller passes
// the trace and request-id headers it received onto its downstream call,
// and turns a downstream failure into a 500.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/server.ts';
import { listenLoopback } from '../helpers/listen.ts';

const APP = fileURLToPath(new URL('../../src/demo/app.ts', import.meta.url));
const children: ChildProcess[] = [];
const servers: Server[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of servers) server.close();
});

function listen(handler: (headers: IncomingHttpHeaders) => number): Promise<number> {
  const server = createServer((req, res) => {
    const status = handler(req.headers);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ service: 'db' }));
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenLoopback(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startApp(args: string[]): Promise<number> {
  const port = await freePort();
  const child = spawn(process.execPath, [APP, ...args, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok, 10_000, 'the app to listen');
  return port;
}

test('api passes traceparent, b3 and x-request-id on to db, and answers with its version', async () => {
  let seen: IncomingHttpHeaders = {};
  const db = await listen((headers) => ((seen = headers), 200));
  const api = await startApp(['--role', 'api', '--version', 'v2', '--upstream-port', String(db)]);
  const headers = {
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
    'x-request-id': 'req-42',
    cookie: 'not-for-db=1',
  };
  const res = await fetch(`http://127.0.0.1:${api}/items`, { headers });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { service: 'api', version: 'v2', downstream: { service: 'db' } });
  assert.equal(seen.traceparent, headers.traceparent);
  assert.equal(seen.b3, headers.b3);
  assert.equal(seen['x-request-id'], 'req-42');
  assert.equal(seen.cookie, undefined, 'only the propagation headers are passed on');
});

test("a downstream 500 becomes the caller's 500; an unreachable one too", async () => {
  const db = await listen(() => 500);
  const frontend = await startApp(['--role', 'frontend', '--upstream-port', String(db)]);
  assert.equal((await fetch(`http://127.0.0.1:${frontend}/`)).status, 500);
  const orphan = await startApp(['--role', 'frontend', '--upstream-port', String(await freePort())]);
  const res = await fetch(`http://127.0.0.1:${orphan}/`);
  assert.equal(res.status, 500);
  assert.match(((await res.json()) as { error: string }).error, /unreachable/);
});

test('db fails its seeded share: the same count for the same seed', async () => {
  const count = async () => {
    const db = await startApp(['--role', 'db', '--error-rate', '0.1', '--seed', '5']);
    let failed = 0;
    for (let i = 0; i < 200; i++) if ((await fetch(`http://127.0.0.1:${db}/query`)).status === 500) failed++;
    return failed;
  };
  const first = await count();
  assert.ok(first > 5 && first < 40, `${first} of 200 failed (10% is 20)`);
  assert.equal(await count(), first);
});
