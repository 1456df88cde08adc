// A smuggling and malformed-request corpus, sent raw at both of the proxy's
// HTTP listeners (the outbound upstream listener, and the inbound listener
// after a valid hop preamble). Each case is either refused (a 4xx, the
// connection closed, and nothing reaches the app) or normalized (the app sees
// exactly the unambiguous request(s) it should). Never forwarded ambiguously.

import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { encodeHop } from '../../src/proxy/hop.ts';
import { connect as connectTls } from 'node:tls';
import { bedCertificateAuthority, startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { listenLoopback } from '../helpers/listen.ts';

// The app: a raw server that records every request head+body it receives, and
// answers each with 200 (it parses just enough: Content-Length bodies only).
let app: Server;
let appPort: number;
let received: string[] = [];
let bed: ProxyBed;

before(async () => {
  app = createServer((socket) => {
    let buffer = '';
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('latin1');
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
        let bodyEnd = end + 4 + length;
        if (chunked) {
          const term = buffer.indexOf('0\r\n\r\n', end + 4);
          if (term < 0) return;
          bodyEnd = term + 5;
        }
        if (buffer.length < bodyEnd) return;
        received.push(buffer.slice(0, bodyEnd));
        buffer = buffer.slice(bodyEnd);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
    socket.on('error', () => {});
  });
  appPort = await listenLoopback(app);
  bed = await startProxyBed('web', [{ id: 'web', port: appPort }], { protocol: 'http', retries: { num_retries: 0 } });
});
after(async () => {
  await bed?.close();
  app?.close();
});

type Expect = { refuse: true } | { forwarded: RegExp[] };

// [name, raw request, expectation]
const corpus: Array<[string, string, Expect]> = [
  ['CL.TE: Content-Length and Transfer-Encoding both', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG', { refuse: true }],
  ['TE.CL: Transfer-Encoding then Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n', { refuse: true }],
  ['two Content-Length headers that differ', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde', { refuse: true }],
  ['Content-Length with a letter', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\nabcde', { refuse: true }],
  ['negative Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', { refuse: true }],
  ['Content-Length with a plus sign', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nabcde', { refuse: true }],
  ['Content-Length with an inner space', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n0123456789', { refuse: true }],
  ['Transfer-Encoding: xchunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', { refuse: true }],
  ['Transfer-Encoding with a space before the colon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', { refuse: true }],
  ['Transfer-Encoding: chunked, identity', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', { refuse: true }],
  ['Transfer-Encoding: identity, then chunked last is fine but identity alone is not', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n', { refuse: true }],
  ['two Transfer-Encoding headers', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', { refuse: true }],
  ['Transfer-Encoding folded onto a second line', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n', { refuse: true }],
  ['bad chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', { refuse: true }],
  ['chunk size overflowing 64 bits', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n0\r\n\r\n', { refuse: true }],
  ['chunk data longer than its size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n', { refuse: true }],
  ['chunk size with a leading space', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n', { refuse: true }],
  ['NUL in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n', { refuse: true }],
  ['bare CR in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n', { refuse: true }],
  ['bare LF ending a header line', 'GET / HTTP/1.1\nHost: a\nX-A: b\n\n', { refuse: true }],
  ['space inside a header name', 'GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n', { refuse: true }],
  ['header line without a colon', 'GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n', { refuse: true }],
  ['obsolete line folding', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n', { refuse: true }],
  ['space inside the method', 'G ET / HTTP/1.1\r\nHost: a\r\n\r\n', { refuse: true }],
  ['space inside the path', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', { refuse: true }],
  ['control character in the path', 'GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n', { refuse: true }],
  ['unknown HTTP version', 'GET / HTTP/1.7\r\nHost: a\r\n\r\n', { refuse: true }],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n', { refuse: true }],
  ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', { refuse: true }],
  ['header section over 16 KiB', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, { refuse: true }],
  ['a request line of garbage', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n', { refuse: true }],
  ['an upgrade without Host', 'GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', { refuse: true }],
  ['an upgrade the app refuses: bytes after it are never forwarded', 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nPOST /smuggled HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n', { forwarded: [/^GET \/ws HTTP\/1\.1\r\n/] }],
  ['pipelined requests stay two separate requests', 'GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n', { forwarded: [/^GET \/one HTTP\/1\.1\r\n/, /^GET \/two HTTP\/1\.1\r\n/] }],
  ['a chunked body is forwarded as one unambiguous body', 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', { forwarded: [/^POST \/c HTTP\/1\.1\r\n(?![\s\S]*content-length[\s\S]*transfer-encoding)[\s\S]*\r\n\r\n(3\r\nabc\r\n0\r\n\r\n|abc)$/i] }],
  ['Content-Length body with extra bytes after it: the rest is a new (bad) request, not body', 'POST /d HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcXYZ', { forwarded: [/^POST \/d HTTP\/1\.1\r\n[\s\S]*\r\n\r\nabc$/] }],
  ['Connection cannot strip Host or Content-Length', 'POST /k HTTP/1.1\r\nHost: a\r\nConnection: host, content-length\r\nContent-Length: 2\r\n\r\nhi', { forwarded: [/^(?=[\s\S]*\r\nhost: a\r\n)(?=[\s\S]*\r\ncontent-length: 2\r\n)POST \/k HTTP\/1\.1\r\n[\s\S]*\r\n\r\nhi$/i] }],
  ['hop-by-hop headers named in Connection are not forwarded', 'GET /h HTTP/1.1\r\nHost: a\r\nConnection: x-secret\r\nX-Secret: 1\r\n\r\n', { forwarded: [/^GET \/h HTTP\/1\.1\r\n(?![\s\S]*x-secret)/i] }],
];

/** Plain TCP to the outbound listener; to the inbound one, mTLS as a peer proxy of service web, then the preamble. */
function send(port: number, payload: string, preamble?: Buffer): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve) => {
    const ca = bedCertificateAuthority();
    const leaf = ca.leaf('web');
    const socket = preamble
      ? connectTls({ port, host: '127.0.0.1', servername: 'web', ca: ca.certPem, cert: leaf.certPem, key: leaf.keyPem, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined }, () => {
          socket.write(preamble);
          socket.write(Buffer.from(payload, 'latin1'));
        })
      : connect(port, '127.0.0.1', () => socket.write(Buffer.from(payload, 'latin1')));
    let response = '';
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response, closed });
    }, 1500);
    socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ response, closed });
    });
    socket.on('error', () => {});
  });
}

for (const listener of ['outbound', 'inbound'] as const) {
  describe(`${listener} listener`, () => {
    for (const [name, payload, expect] of corpus) {
      test(name, async () => {
        received = [];
        const port = listener === 'outbound' ? bed.upstreamPort : bed.inboundPort;
        const preamble = listener === 'inbound' ? encodeHop({ service: 'web', protocol: 'http', instance: 'web' }) : undefined;
        const { response, closed } = await send(port, payload, preamble);
        if ('refuse' in expect) {
          assert.match(response, /^HTTP\/1\.1 4\d\d /, `refused with a 4xx, got ${JSON.stringify(response.slice(0, 60))}`);
          assert.match(response, /x-mesh-error: bad_request; hop=/i, 'the refusal names itself');
          assert.equal(closed, true, 'the connection is closed');
          assert.deepEqual(received, [], 'nothing reached the app');
        } else {
          assert.equal(received.length, expect.forwarded.length, `the app saw ${received.length} request(s): ${JSON.stringify(received)}`);
          expect.forwarded.forEach((pattern, i) => assert.match(received[i] as string, pattern));
        }
      });
    }
  });
}
