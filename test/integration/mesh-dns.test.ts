// The mesh DNS against unmodified clients: Node's own resolver (c-ares, over
// UDP) and a raw TCP client, with a fake upstream resolver for forwarding.

import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import { systemClock } from '../../src/lib/clock.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { MeshDns } from '../../src/dns/mesh-dns.ts';

/**
 * A resolver on 127.0.0.1 that answers example.test. A 192.0.2.7 over UDP and
 * TCP, big.test. A 192.0.2.8 only over TCP (truncated over UDP), or stays silent.
 */
class FakeUpstream {
  udp!: UdpSocket;
  tcp!: Server;
  port = 0;
  silent = false;
  received: Array<{ transport: 'udp' | 'tcp'; packet: Packet }> = [];

  answer(query: Packet, transport: 'udp' | 'tcp'): Buffer {
    const question = query.questions![0]!;
    const name = question.name.toLowerCase();
    const address = question.type === 'A' ? { 'example.test': '192.0.2.7', 'big.test': '192.0.2.8' }[name] : undefined;
    const truncated = name === 'big.test' && transport === 'udp';
    return dnsPacket.encode({
      type: 'response',
      id: query.id!,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | (address ? 0 : 3),
      questions: query.questions!,
      answers: address && !truncated ? [{ type: 'A', name: question.name, ttl: 60, data: address }] : [],
    });
  }

  async start(): Promise<void> {
    this.udp = createSocket('udp4');
    this.udp.on('message', (message, rinfo) => {
      const packet = dnsPacket.decode(message);
      this.received.push({ transport: 'udp', packet });
      if (!this.silent) this.udp.send(this.answer(packet, 'udp'), rinfo.port, rinfo.address);
    });
    this.udp.bind(0, '127.0.0.1');
    await once(this.udp, 'listening');
    this.port = this.udp.address().port;
    this.tcp = createServer((socket) => {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const packet = dnsPacket.streamDecode(buffered);
          buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
          this.received.push({ transport: 'tcp', packet });
          if (!this.silent) socket.write(dnsPacket.streamEncode(dnsPacket.decode(this.answer(packet, 'tcp'))));
        }
      });
    });
    this.tcp.listen(this.port, '127.0.0.1');
    await once(this.tcp, 'listening');
  }

  async stop(): Promise<void> {
    this.udp.close();
    this.tcp.close();
  }
}

// dns-packet decodes rcode and each record's ttl and data; its types leave them out.
type Reply = Packet & { rcode: string; flag_aa: boolean };
type RecordView = { name: string; type: string; ttl?: number; data?: unknown };
const records = (reply: Packet): RecordView[] => (reply.answers ?? []) as RecordView[];

/** Sends queries over one TCP connection and collects the answers by ID. */
class TcpClient {
  private readonly socket: Socket;
  private buffered = Buffer.alloc(0);
  private readonly waiting = new Map<number, (packet: Reply) => void>();
  closed: Promise<unknown>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.closed = once(this.socket, 'close');
    this.socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 2 && this.buffered.length >= 2 + this.buffered.readUInt16BE(0)) {
        const packet = dnsPacket.streamDecode(this.buffered) as Reply;
        this.buffered = this.buffered.subarray(2 + this.buffered.readUInt16BE(0));
        this.waiting.get(packet.id!)?.(packet);
      }
    });
  }

  query(id: number, name: string, type: 'A' | 'AAAA' = 'A'): Promise<Reply> {
    const answer = new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
    this.socket.write(dnsPacket.streamEncode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }));
    return answer;
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const upstream = new FakeUpstream();
let server: MeshDns;
let port: number;
const logs: string[] = [];

function resolver(): dns.Resolver {
  const r = new dns.Resolver({ timeout: 3000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

before(async () => {
  await upstream.start();
  server = new MeshDns({
    upstreams: [`127.0.0.1:${upstream.port}`],
    log: (line) => logs.push(line),
    clock: systemClock,
    // Every forwarded query goes out under ID 0x8000, so the mapping back is visible.
    random: () => 0.5,
    upstreamTimeoutMs: 100,
  });
  server.setRecords(new Map([['web', '240.0.0.1'], ['api', '240.0.0.2']]));
  await server.start({ host: '127.0.0.1', port: 0 });
  port = server.address()!.port;
});

after(async () => {
  await server.stop();
  await upstream.stop();
});

test('a mesh name resolves to its virtual IP with the mesh TTL, through Node’s resolver', async () => {
  assert.deepEqual(await resolver().resolve4('web.mesh', { ttl: true }), [{ address: '240.0.0.1', ttl: 5 }]);
  assert.deepEqual(await resolver().resolve4('WEB.Service.Consul'), ['240.0.0.1']);
});

test('an unknown service is NXDOMAIN and an AAAA for a known one is NODATA', async () => {
  await assert.rejects(resolver().resolve4('nope.mesh'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver().resolve6('web.mesh'), { code: 'ENODATA' });
});

test('over TCP: several queries on one connection, authoritative, the question’s case echoed', async () => {
  const client = new TcpClient(port);
  const [web, nope, aaaa] = await Promise.all([client.query(1, 'Web.Mesh'), client.query(2, 'nope.mesh'), client.query(3, 'api.mesh', 'AAAA')]);
  assert.equal(web.rcode, 'NOERROR');
  assert.equal(web.flag_aa, true);
  assert.deepEqual(records(web).map((a) => [a.name, a.type, a.ttl, a.data]), [['Web.Mesh', 'A', 5, '240.0.0.1']]);
  assert.equal(nope.rcode, 'NXDOMAIN');
  assert.equal(nope.authorities![0]!.type, 'SOA');
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.deepEqual(aaaa.answers, []);
  client.close();
});

test('other names are forwarded upstream over UDP and over TCP, never mesh names', async () => {
  upstream.received = [];
  assert.deepEqual(await resolver().resolve4('example.test'), ['192.0.2.7']);
  const client = new TcpClient(port);
  const answer = await client.query(4242, 'example.test');
  client.close();
  assert.equal(answer.id, 4242);
  assert.deepEqual(records(answer).map((a) => a.data), ['192.0.2.7']);
  assert.deepEqual(new Set(upstream.received.map((r) => r.transport)), new Set(['udp', 'tcp']));
  // The upstream saw our ID, and its answer was mapped back to the client's.
  assert.deepEqual(upstream.received.map((r) => r.packet.id), [0x8000, 0x8000]);
  // Mesh names never leave the host: the upstream saw only the forwarded name.
  assert.ok(upstream.received.every((r) => r.packet.questions![0]!.name === 'example.test'));
});

test('a truncated UDP answer is relayed, and the client retries over TCP through us', async () => {
  upstream.received = [];
  assert.deepEqual(await resolver().resolve4('big.test'), ['192.0.2.8']);
  assert.deepEqual(upstream.received.map((r) => r.transport), ['udp', 'tcp']);
});

test('when the upstream is silent the client gets SERVFAIL', async () => {
  upstream.silent = true;
  try {
    const failedBefore = server.stats.failed;
    await assert.rejects(resolver().resolve4('example.test'), { code: 'ESERVFAIL' });
    const client = new TcpClient(port);
    const answer = await client.query(7, 'example.test');
    client.close();
    assert.equal(answer.rcode, 'SERVFAIL');
    assert.ok(server.stats.failed >= failedBefore + 2);
  } finally {
    upstream.silent = false;
  }
});

test('setRecords replaces the whole table', async () => {
  server.setRecords(new Map([['db', '240.0.0.9']]));
  try {
    assert.deepEqual(await resolver().resolve4('db.mesh'), ['240.0.0.9']);
    await assert.rejects(resolver().resolve4('web.mesh'), { code: 'ENOTFOUND' });
    assert.throws(() => server.setRecords(new Map([['db', 'not-an-ip']])), { code: 'MESH_E_BAD_REQUEST' });
    assert.deepEqual(await resolver().resolve4('db.mesh'), ['240.0.0.9']);
  } finally {
    server.setRecords(new Map([['web', '240.0.0.1'], ['api', '240.0.0.2']]));
  }
});

test('a malformed UDP packet is dropped and the server still answers', async () => {
  const before = server.stats.malformed;
  const socket = createSocket('udp4');
  socket.send(Buffer.from('this is not dns at all'), port, '127.0.0.1');
  socket.send(Buffer.alloc(3), port, '127.0.0.1');
  await until(() => server.stats.malformed === before + 2, 'the malformed packets to be counted');
  socket.close();
  assert.deepEqual(await resolver().resolve4('web.mesh'), ['240.0.0.1']);
});

test('a malformed TCP message closes that connection only', async () => {
  const bad = new TcpClient(port);
  bad.writeRaw(Buffer.from([0x00, 0x0c, ...Buffer.alloc(12, 0xff)]));
  await bad.closed;
  const good = new TcpClient(port);
  assert.deepEqual(records(await good.query(9, 'web.mesh')).map((a) => a.data), ['240.0.0.1']);
  good.close();
});

test('counters tell local answers from forwarded and failed ones', () => {
  const stats = server.stats;
  assert.ok(stats.answered > 0 && stats.forwarded > 0 && stats.failed > 0 && stats.malformed > 0, JSON.stringify(stats));
});

test('an idle TCP connection is closed after the idle timeout', async () => {
  const clock = new FakeClock();
  const idle = new MeshDns({ upstreams: [], log: () => {}, clock, random: () => 0.5, idleTimeoutMs: 1000 });
  await idle.start({ host: '127.0.0.1', port: 0 });
  try {
    const client = new TcpClient(idle.address()!.port);
    await client.query(1, 'nope.mesh');
    clock.advance(999);
    clock.advance(1);
    await client.closed;
  } finally {
    await idle.stop();
  }
});

test('several addresses on one port, UDP and TCP on each: 127.0.0.1 and ::1', async () => {
  const dual = new MeshDns({ upstreams: [], log: () => {}, clock: systemClock, random: () => 0.5 });
  dual.setRecords(new Map([['web', '240.0.0.1']]));
  await dual.start({ hosts: ['127.0.0.1', '::1'], port: 0 });
  try {
    const bound = dual.addresses();
    assert.deepEqual(bound.map((a) => a.host), ['127.0.0.1', '::1']);
    assert.equal(bound[0]!.port, bound[1]!.port);
    assert.deepEqual(dual.address(), bound[0]);
    for (const server of [`127.0.0.1:${bound[0]!.port}`, `[::1]:${bound[0]!.port}`]) {
      const r = new dns.Resolver({ timeout: 3000, tries: 1 });
      r.setServers([server]);
      assert.deepEqual(await r.resolve4('web.mesh'), ['240.0.0.1'], `udp ${server}`);
    }
    const socket = connect(bound[0]!.port, '::1');
    socket.write(dnsPacket.streamEncode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'web.mesh' }] }));
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    const reply = dnsPacket.streamDecode(chunk);
    assert.deepEqual(reply.answers?.map((a) => ('data' in a ? a.data : undefined)), ['240.0.0.1'], 'tcp [::1]');
  } finally {
    await dual.stop();
  }
  assert.deepEqual(dual.addresses(), []);
});
