// The access log on the in-process bed (test/helpers/proxy-bed.ts: `web`
// calls itself over mTLS through both stages), wired with attachAccessLog as
// the agent wires it: real requests through the proxy, some answered by the
// mesh itself, then the file read back. One parsable line per request and
// stage, with the ids, status and cause the caller and the app saw.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { attachAccessLog, type AccessLogFile } from '../../src/agent/telemetry/access-log-file.ts';
import { compileIntentions } from '../../src/config/intention-table.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';
import { listenLoopback } from '../helpers/listen.ts';

interface Answer { status: number; meshError: string; requestId: string }

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'web', ...headers }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, meshError: String(res.headers['x-mesh-error'] ?? ''), requestId: String(res.headers['x-app-saw-request-id'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every line of every file the log wrote (the symlink skipped), parsed: a line that is not JSON fails the test. */
function readLines(dir: string): Array<Record<string, unknown>> {
  return readdirSync(dir)
    .filter((f) => /^access\..+\.log$/.test(f))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('access log: HTTP through both stages', () => {
  let app: Server;
  let bed: ProxyBed;
  let log: AccessLogFile | undefined;
  let records = 0;
  const dataDir = mkdtempSync(join(tmpdir(), 'meshctl-alog-'));
  const stateDir = join(dataDir, 'agent');
  before(async () => {
    app = createServer((req, res) => {
      // The app says which request id it received, so the test can hold it against the log.
      res.setHeader('x-app-saw-request-id', String(req.headers['x-request-id'] ?? ''));
      res.end('ok');
    });
    const port = await listenLoopback(app);
    bed = await startProxyBed('web', [{ id: 'web-1', port }], { protocol: 'http', retries: { num_retries: 0 } }, {
      defaultPolicy: 'deny',
      entries: [{ Name: 'web', Config: { Sources: [{ Name: 'web', Action: 'allow', Permissions: [{ Action: 'deny', HTTP: { PathPrefix: '/admin' } }] }] } }],
    });
    log = await attachAccessLog({ dataDir }, bed.proxy.telemetry, () => {});
    bed.proxy.telemetry.add({ http: () => records++ });
  });
  after(async () => {
    await bed.close();
    app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('one line per request and stage, with the ids the app saw, the status and the mesh cause', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 20; i++) answers.push(await get(bed.upstreamPort, `/ok/${i}`));
    const traced = await get(bed.upstreamPort, '/traced', { 'x-request-id': 'client-chosen-id', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    const denied = await get(bed.upstreamPort, '/admin/users');
    // No instance left (the bed's set([]) would also forget the service is HTTP).
    await bed.proxy.apply({ upstreams: [{ service: 'web', localPort: bed.upstreamPort, caller: 'web' }], instances: new Map([['web', []]]), serviceDefaults: new Map([['web', { protocol: 'http' }]]), intentions: compileIntentions([], 'allow'), local: [] });
    const unavailable = await get(bed.upstreamPort, '/nobody-home');
    assert.deepEqual([traced.status, denied.status, unavailable.status], [200, 403, 503]);
    assert.match(unavailable.meshError, /^no_healthy_endpoints; hop=outbound/);
    // 21 answered requests cross both stages; the denied one too (the inbound stage refused it); the last stops outbound.
    await waitFor(() => records >= 22 * 2 + 1, 5000, 'every record');
    await log?.close();

    const lines = readLines(stateDir);
    assert.equal(lines.length, 22 * 2 + 1, 'one line per request and stage, no more, no less');
    assert.equal(readlinkSync(join(stateDir, 'access.log')), log?.current.split('/').pop(), 'access.log points at the file being written');
    const byId = (id: string) => lines.filter((l) => l.requestId === id);
    for (const [i, answer] of answers.entries()) {
      assert.equal(answer.status, 200);
      assert.ok(answer.requestId, 'the proxy gave the request an id');
      const both = byId(answer.requestId);
      assert.deepEqual(both.map((l) => l.direction).sort(), ['inbound', 'outbound'], `request ${i}: one line per stage with the id the app received`);
      for (const l of both) {
        assert.equal(l.path, `/ok/${i}`);
        assert.equal(l.status, 200);
        assert.equal(l.source, 'web');
        assert.equal(l.destination, 'web');
        assert.equal(l.mtls, true);
        assert.equal(typeof l.durationMs, 'number');
        assert.ok(!Number.isNaN(Date.parse(String(l.time))));
      }
      assert.equal(both.find((l) => l.direction === 'outbound')?.attempts, 1);
      assert.equal(both.find((l) => l.direction === 'inbound')?.endpoint, 'web-1');
    }
    const tracedLines = byId('client-chosen-id');
    assert.equal(traced.requestId, 'client-chosen-id', "the caller's own id is kept");
    assert.deepEqual(tracedLines.map((l) => l.traceId), ['4bf92f3577b34da6a3ce929d0e0e4736', '4bf92f3577b34da6a3ce929d0e0e4736']);

    const deniedInbound = lines.find((l) => l.path === '/admin/users' && l.direction === 'inbound');
    assert.equal(deniedInbound?.status, 403);
    assert.equal(deniedInbound?.cause, 'intention_denied');
    assert.equal(deniedInbound?.hop, 'inbound');
    assert.match(String(deniedInbound?.policy), /deny, path-prefix \/admin/);
    assert.equal(lines.find((l) => l.path === '/admin/users' && l.direction === 'outbound')?.status, 403);

    const noEndpoint = lines.filter((l) => l.path === '/nobody-home');
    assert.equal(noEndpoint.length, 1, 'the mesh answered at the outbound stage: the inbound one never saw it');
    assert.equal(noEndpoint[0]?.status, 503);
    assert.equal(noEndpoint[0]?.cause, 'no_healthy_endpoints');
    assert.equal(noEndpoint[0]?.hop, 'outbound');
    assert.ok(noEndpoint[0]?.requestId, 'answers the mesh made have a request id too');
  });
});

describe('access log: TCP connections', () => {
  let app: NetServer;
  let bed: ProxyBed;
  let log: AccessLogFile | undefined;
  let closed = 0;
  let inboundBytesIn = NaN;
  const dataDir = mkdtempSync(join(tmpdir(), 'meshctl-alog-tcp-'));
  before(async () => {
    app = createNetServer((socket) => socket.on('data', (d: Buffer) => socket.end(Buffer.concat([d, d]))));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    bed = await startProxyBed('db', [{ id: 'db-1', port: (app.address() as { port: number }).port }]);
    log = await attachAccessLog({ dataDir, accessLog: { path: join(dataDir, 'logs', 'tcp.log') } }, bed.proxy.telemetry, () => {});
    bed.proxy.telemetry.add({ tcp: () => closed++ });
  });
  after(async () => {
    await bed.close();
    app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('one line per connection and stage, with the bytes each way', async () => {
    const echoed = await new Promise<number>((resolve, reject) => {
      const socket = connect(bed.upstreamPort, '127.0.0.1', () => socket.end('x'.repeat(100)));
      let n = 0;
      socket.on('data', (d: Buffer) => (n += d.length));
      socket.on('close', () => resolve(n));
      socket.on('error', reject);
    });
    assert.equal(echoed, 200);
    await waitFor(() => closed >= 2, 5000, 'both stages to close');
    await log?.close();
    const files = readdirSync(join(dataDir, 'logs'));
    assert.ok(files.includes('tcp.log'), `a custom path is the link name too: ${files.join(', ')}`);
    const lines = files.filter((f) => f !== 'tcp.log').flatMap((f) => readFileSync(join(dataDir, 'logs', f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l.direction).sort(), ['inbound', 'outbound']);
    for (const l of lines) {
      assert.equal(l.protocol, 'tcp');
      assert.equal(l.destination, 'db');
      assert.equal(l.bytesOut, 200, `${l.direction}: bytes back to the side that opened`);
      assert.equal(l.cause, undefined);
    }
    assert.equal(lines.find((l) => l.direction === 'outbound')?.bytesIn, 100, 'outbound: bytes from the side that opened');
    assert.equal(lines.find((l) => l.direction === 'inbound')?.endpoint, 'db-1');
    inboundBytesIn = Number(lines.find((l) => l.direction === 'inbound')?.bytesIn);
  });

  // The hop preamble read before the splice is the mesh's, not the app's: the inbound stage counts what it pipes.
  test('the inbound stage counts only the app’s bytes, not the hop preamble', () => {
    assert.equal(inboundBytesIn, 100);
  });
});
