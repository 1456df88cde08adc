// Intentions enforced by the callee's inbound hop, on the in-process bed
// (test/helpers/proxy-bed.ts: `web` calls itself over mTLS, so the caller's
// identity is `web`). HTTP requests are judged per request on the normalized
// path, which is also the path the app receives; TCP connections are judged
// at connect, and a new deny closes the open ones it denies; so are gRPC
// streams, which end with PERMISSION_DENIED.

import assert from 'node:assert/strict';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { IntentionEntry } from '../../src/config/intention-table.ts';
import { connect as connectTls } from 'node:tls';
import { bedCertificateAuthority, startProxyBed, type BedIntentions, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';
import { closeGrpcBed, echoClient, grpc, startEchoServer } from '../helpers/grpc-echo.ts';
import { listenLoopback } from '../helpers/listen.ts';

/** Sends raw request bytes to a port; resolves the status line's code, the x-mesh-error header and the body. */
function raw(port: number, request: string): Promise<{ status: number; meshError: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), meshError: /\r\nx-mesh-error: ([^\r]*)/i.exec(head)?.[1] ?? '', body });
    });
  });
}
const get = (port: number, target: string) => raw(port, `GET ${target} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`);

const adminDenied = (extra: IntentionEntry['Config']['Sources'] = []): BedIntentions => ({
  defaultPolicy: 'deny',
  entries: [{ Name: 'web', Config: { Sources: [{ Name: 'web', Action: 'allow', Permissions: [{ Action: 'deny', HTTP: { PathPrefix: '/admin' } }] }, ...extra] } }],
});

describe('HTTP: L7 intentions on the normalized path', () => {
  let app: Server;
  let bed: ProxyBed;
  const seen: string[] = [];
  before(async () => {
    app = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end(`app saw ${req.url}`);
    });
    const port = await listenLoopback(app);
    bed = await startProxyBed('web', [{ id: 'web', port }], { protocol: 'http', retries: { num_retries: 0 } }, adminDenied());
  });
  after(async () => {
    await bed.close();
    app.close();
  });

  const cases: Array<[string, number, string | undefined]> = [
    ['/admin', 403, undefined],
    ['/admin/users', 403, undefined],
    ['/admin/../admin', 403, undefined],
    ['//admin', 403, undefined],
    ['/%61dmin', 403, undefined],
    ['/admin#x', 403, undefined],
    ['/public/../admin/x', 403, undefined],
    ['/./admin', 403, undefined],
    ['/ADMIN', 200, '/ADMIN'],
    ['/public', 200, '/public'],
    ['/a/./b//c/../d?q=%2F..', 200, '/a/b/d?q=%2F..'],
    ['/%7Euser', 200, '/~user'],
  ];
  for (const [target, status, appSees] of cases) {
    test(`${target} → ${status}${appSees ? `, the app sees ${appSees}` : ''}`, async () => {
      seen.length = 0;
      const answer = await get(bed.upstreamPort, target);
      assert.equal(answer.status, status, JSON.stringify(answer));
      if (status === 403) {
        assert.match(answer.meshError, /^intention_denied; hop=inbound; service=web; policy=intention web -> web \(deny, path-prefix \/admin\)/);
        assert.deepEqual(seen, [], 'nothing reached the app');
      } else {
        assert.deepEqual(seen, [appSees], 'the app got the normalized path, the one judged');
      }
    });
  }

  test('an encoded slash or backslash is refused with a 400 that says why', async () => {
    for (const target of ['/admin%2Fx', '/x%2fadmin', '/x%5Cadmin']) {
      seen.length = 0;
      const answer = await get(bed.upstreamPort, target);
      assert.equal(answer.status, 400, `${target}: ${JSON.stringify(answer)}`);
      assert.match(answer.meshError, /^bad_request; hop=inbound/);
      assert.deepEqual(seen, []);
    }
  });

  test('method and header permissions; deny beats allow at one precedence; the mesh default decides the rest', async () => {
    await bed.set([{ id: 'web', port: (app.address() as { port: number }).port }], { protocol: 'http', retries: { num_retries: 0 } }, {
      defaultPolicy: 'deny',
      entries: [{
        Name: 'web',
        Config: { Sources: [{ Name: 'web', Permissions: [
          { Action: 'allow', HTTP: { PathPrefix: '/api', Methods: ['GET'] } },
          { Action: 'deny', HTTP: { PathPrefix: '/api', Header: [{ Name: 'x-debug', Present: true }] } },
        ] }] },
      }],
    });
    assert.equal((await get(bed.upstreamPort, '/api/x')).status, 200);
    assert.equal((await raw(bed.upstreamPort, 'DELETE /api/x HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n')).status, 403, 'no permission allows DELETE: the default denies');
    const both = await raw(bed.upstreamPort, 'GET /api/x HTTP/1.1\r\nHost: web\r\nx-debug: 1\r\nConnection: close\r\n\r\n');
    assert.equal(both.status, 403, 'allow and deny both match: deny wins');
    assert.match(both.meshError, /x-debug/);
    const other = await get(bed.upstreamPort, '/other');
    assert.equal(other.status, 403);
    assert.match(other.meshError, /policy=mesh default_policy=deny/);
  });
});

describe('TCP: judged at connect, and again when the intentions change', () => {
  let echo: NetServer;
  let bed: ProxyBed;
  let port: number;
  const allow: BedIntentions = { defaultPolicy: 'deny', entries: [{ Name: 'db', Config: { Sources: [{ Name: 'db', Action: 'allow' }] } }] };
  const deny: BedIntentions = { defaultPolicy: 'deny', entries: [{ Name: 'db', Config: { Sources: [{ Name: '*', Action: 'allow' }, { Name: 'db', Action: 'deny' }] } }] };
  before(async () => {
    echo = createNetServer((s) => s.pipe(s));
    port = await listenLoopback(echo);
    bed = await startProxyBed('db', [{ id: 'db', port }], { protocol: 'tcp' }, allow);
  });
  after(async () => {
    await bed.close();
    echo.close();
  });

  const open = () => {
    const socket = connect(bed.upstreamPort, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    return { socket, closed, got: () => got };
  };

  test('an allowed connection carries bytes; a new exact deny (beating * allow) closes it, and new ones are closed at once', async () => {
    const c = open();
    c.socket.write('ping');
    await waitFor(() => c.got() === 'ping', 5_000, 'the echo through the mesh');
    await bed.set([{ id: 'db', port }], { protocol: 'tcp' }, deny);
    await c.closed;
    const d = open();
    d.socket.write('ping');
    await d.closed;
    assert.equal(d.got(), '', 'a denied connection carries nothing');
    await bed.set([{ id: 'db', port }], { protocol: 'tcp' }, allow);
  });
});

describe('gRPC: a long stream is judged again when the intentions change', () => {
  let servers: Array<{ port: number; close: () => void }>;
  let bed: ProxyBed;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let client: any;
  const instances = () => [{ id: 'echo', port: servers[0]!.port }];
  const allow: BedIntentions = { defaultPolicy: 'deny', entries: [{ Name: 'echo', Config: { Sources: [{ Name: 'echo', Action: 'allow' }] } }] };
  const denyAdmin: BedIntentions = { defaultPolicy: 'deny', entries: [{ Name: 'echo', Config: { Sources: [{ Name: 'echo', Action: 'allow', Permissions: [{ Action: 'deny', HTTP: { PathPrefix: '/meshtest.Echo/Chat' } }] }] } }] };
  before(async () => {
    servers = [await startEchoServer('e1')];
    bed = await startProxyBed('echo', instances(), { protocol: 'grpc' }, allow);
    client = echoClient(bed.upstreamPort);
  });
  after(() => closeGrpcBed({ client, bed, servers }));

  const chat = () => {
    const call = client.Chat();
    const received: string[] = [];
    call.on('data', (m: { text: string }) => received.push(m.text));
    const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on('error', (error: grpc.ServiceError) => resolve(error));
      call.on('end', () => resolve(undefined));
    });
    return { call, received, ended };
  };

  test('an open stream now denied ends with PERMISSION_DENIED and the mesh reason; a new one is refused; other methods go on', async () => {
    const open = chat();
    open.call.write({ text: 'before' });
    await waitFor(() => open.received.length === 1, 5_000, 'the first message echoed through the mesh');
    await bed.set(instances(), { protocol: 'grpc' }, denyAdmin);
    const error = await open.ended;
    assert.equal(error?.code, grpc.status.PERMISSION_DENIED, `the open stream ended with ${error?.code} ${error?.details}`);
    assert.match(String(error?.metadata.get('x-mesh-error')[0]), /^intention_denied; hop=inbound; service=echo/);
    assert.deepEqual(open.received, ['BEFORE']);

    const again = chat();
    again.call.write({ text: 'after' });
    assert.equal((await again.ended)?.code, grpc.status.PERMISSION_DENIED, 'a new stream is refused at once');
    assert.deepEqual(again.received, []);
    const reply = await new Promise<{ text: string }>((resolve, reject) => client.Say({ text: 'still' }, (e: Error | null, r: { text: string }) => (e ? reject(e) : resolve(r))));
    assert.equal(reply.text, 'still', 'a method the change does not deny still answers');
  });

  test('a stream the change still allows is left alone', async () => {
    await bed.set(instances(), { protocol: 'grpc' }, allow);
    const open = chat();
    open.call.write({ text: 'one' });
    await waitFor(() => open.received.length === 1, 5_000, 'the first message echoed');
    await bed.set(instances(), { protocol: 'grpc', timeouts: { connect: '2s' } }, allow);
    open.call.write({ text: 'two' });
    await waitFor(() => open.received.length === 2, 5_000, 'the second message, after the change');
    open.call.end();
    assert.equal(await open.ended, undefined);
    assert.deepEqual(open.received, ['ONE', 'TWO']);
  });
});

describe('the caller cannot choose how it is judged', () => {
  let app: Server;
  let bed: ProxyBed;
  const seen: string[] = [];
  before(async () => {
    app = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    bed = await startProxyBed('web', [{ id: 'web', port: (app.address() as { port: number }).port }], { protocol: 'http', retries: { num_retries: 0 } }, {
      defaultPolicy: 'deny',
      entries: [{ Name: 'web', Config: { Sources: [{ Name: 'web', Action: 'allow', Permissions: [
        { Action: 'deny', HTTP: { PathPrefix: '/admin' } },
        { Action: 'deny', HTTP: { PathPrefix: '/', Header: [{ Name: 'x-user', Exact: 'mallory' }] } },
      ] }] } }],
    });
  });
  after(async () => {
    await bed.close();
    app.close();
  });

  test('a TCP hop to an HTTP service is closed, so L7 denies cannot be skipped', async () => {
    const ca = bedCertificateAuthority();
    const leaf = ca.leaf('web');
    seen.length = 0;
    const answer = await new Promise<string>((resolve) => {
      const socket = connectTls({ port: bed.inboundPort, host: '127.0.0.1', servername: 'web', ca: ca.certPem, cert: leaf.certPem, key: leaf.keyPem, ALPNProtocols: ['meshctl/tcp'], checkServerIdentity: () => undefined }, () => {
        socket.write(`MESH/1 web tcp web\r\nGET /admin HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString()));
      socket.on('error', () => {});
      socket.on('close', () => resolve(data));
    });
    assert.equal(answer, '', 'nothing answered');
    assert.deepEqual(seen, [], 'nothing reached the app');
  });

  test('a repeated header is judged value by value: a denied value anywhere is denied', async () => {
    const once = await raw(bed.upstreamPort, 'GET /x HTTP/1.1\r\nHost: web\r\nx-user: alice\r\nConnection: close\r\n\r\n');
    assert.equal(once.status, 200);
    for (const order of [['alice', 'mallory'], ['mallory', 'alice'], ['mallory', 'mallory']]) {
      const twice = await raw(bed.upstreamPort, `GET /x HTTP/1.1\r\nHost: web\r\nx-user: ${order[0]}\r\nx-user: ${order[1]}\r\nConnection: close\r\n\r\n`);
      assert.equal(twice.status, 403, `x-user: ${order.join(', ')}`);
    }
  });
});
