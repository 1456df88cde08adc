// HTTP/1.1 exchanges in flight are judged again when the intentions change,
// like TCP hops and HTTP/2 streams (proxy-intentions.test.ts), on the
// in-process bed (test/helpers/proxy-bed.ts: `web` calls itself over mTLS).
// An answer under way when its caller is denied is cut (HTTP/1.1 cannot fail
// it mid-body); one not started yet gets the mesh's 403, as a new request
// would; either way its inbound record carries the deny, once.

import assert from 'node:assert/strict';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { IntentionEntry } from '../../src/config/intention-table.ts';
import type { HttpRecord } from '../../src/proxy/telemetry/records.ts';
import { startProxyBed, type BedIntentions, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';
import { listenLoopback } from '../helpers/listen.ts';

const DEFAULTS = { protocol: 'http', retries: { num_retries: 0 } };
type Permission = NonNullable<IntentionEntry['Config']['Sources'][number]['Permissions']>[number];
/** web may call itself, except under these path prefixes; other sources as given. */
const rules = (deniedPrefixes: string[] = [], others: IntentionEntry['Config']['Sources'] = []): BedIntentions => ({
  defaultPolicy: 'deny',
  entries: [{
    Name: 'web',
    Config: { Sources: [{ Name: 'web', Action: 'allow', Permissions: deniedPrefixes.map((p): Permission => ({ Action: 'deny', HTTP: { PathPrefix: p } })) }, ...others] },
  }],
});

let app: Server;
let bed: ProxyBed;
let appPort: number;
const records: HttpRecord[] = [];
/** Answers the app holds before their headers, by path; the app saw them close when they are in `appClosed`. */
const held = new Map<string, ServerResponse>();
const appClosed = new Set<string>();
const timers = new Set<NodeJS.Timeout>();
const instances = () => [{ id: 'web', port: appPort }];
const setRules = (intentions: BedIntentions) => bed.set(instances(), DEFAULTS, intentions);
const inbound = (path: string) => records.filter((r) => r.direction === 'inbound' && r.path === path);

before(async () => {
  app = createServer((req, res) => {
    const url = req.url ?? '/';
    res.once('close', () => appClosed.add(url));
    if (url.startsWith('/events')) {
      // Server-sent events: chunked, one event every 50 ms, for as long as the caller listens.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const timer = setInterval(() => res.write(`data: ${++n}\n\n`), 50);
      timers.add(timer);
      res.once('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
      return;
    }
    if (url.startsWith('/slow')) return void held.set(url, res);
    if (url.startsWith('/d/chunks')) {
      // A short streamed answer: its headers at once, then three chunks over ~30 ms, long enough for a flip to land mid-body.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('start\n');
      let n = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return void clearInterval(timer);
        res.write(`chunk ${n}\n`);
        if (++n === 3) {
          clearInterval(timer);
          res.end();
        }
      }, 10);
      return;
    }
    if (url.startsWith('/d/later')) {
      const timer = setTimeout(() => res.destroyed || res.end('later'), 15);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    res.end(`ok ${url}`);
  });
  appPort = await listenLoopback(app);
  bed = await startProxyBed('web', instances(), DEFAULTS, rules());
  bed.proxy.telemetry.add({ http: (r) => void records.push(r) });
});

after(async () => {
  for (const timer of timers) clearInterval(timer);
  for (const res of held.values()) res.destroy();
  await bed?.close();
  app.closeAllConnections();
  app.close();
});

beforeEach(async () => {
  await setRules(rules());
  records.length = 0;
  held.clear();
  appClosed.clear();
});

/** A raw client on the caller's upstream listener: every byte it got, and whether the connection closed. */
function rawGet(path: string) {
  const socket = connect(bed.upstreamPort, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: web\r\n\r\n`));
  let data = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  return { socket, data: () => data, closed: () => closed };
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  reused: boolean;
}

function get(path: string, agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bed.upstreamPort, path, headers: { host: 'web' }, ...(agent ? { agent } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
      res.on('error', reject);
      res.on('close', () => res.complete || reject(new Error(`${path}: the answer was cut`)));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('an HTTP/1.1 answer in flight when the intentions change', () => {
  test('a server-sent event stream now denied is cut within two seconds; the caller sees no last chunk; its record has the deny', async () => {
    const client = rawGet('/events');
    await waitFor(() => client.data().includes('data: 2'), 5_000, 'two events through the mesh');
    assert.match(client.data(), /^HTTP\/1\.1 200 /);
    assert.match(client.data(), /\r\ntransfer-encoding: chunked\r\n/i);
    const t0 = performance.now();
    await setRules(rules(['/events']));
    await waitFor(() => client.closed(), 5_000, 'the caller\'s connection closed');
    const tookMs = performance.now() - t0;
    assert.ok(tookMs < 2_000, `cut after ${tookMs} ms`);
    assert.doesNotMatch(client.data(), /\r\n0\r\n\r\n/, 'no terminating chunk: the caller can tell the stream was cut');
    await waitFor(() => appClosed.has('/events'), 2_000, 'the app sees its answer abandoned');

    const [record] = await waitFor(() => inbound('/events').length > 0 && inbound('/events'), 2_000, 'the inbound record');
    assert.equal(inbound('/events').length, 1, 'one record');
    assert.equal(record!.status, 200, 'the status that went out');
    assert.equal(record!.failure?.cause, 'intention_denied');
    assert.equal(record!.failure?.hop, 'inbound');
    assert.match(record!.failure?.policy ?? '', /intention web → web \(deny, path-prefix \/events\)/);
    assert.ok(record!.responseBytes > 0, 'the bytes relayed before the cut are counted');

    const again = await get('/events');
    assert.equal(again.status, 403, 'a new request is refused at once');
  });

  test('a stream whose caller is still allowed is left alone when an unrelated intention changes', async () => {
    const client = rawGet('/events?alone');
    await waitFor(() => client.data().includes('data: 1'), 5_000, 'the first event');
    // Another source denied, and another path of this one: nothing that decides this stream.
    await setRules(rules(['/admin'], [{ Name: 'api', Action: 'deny' }]));
    const seen = (client.data().match(/data: \d+/g) ?? []).length;
    await waitFor(() => (client.data().match(/data: \d+/g) ?? []).length >= seen + 3, 5_000, 'three more events after the change');
    assert.equal(client.closed(), false);
    assert.equal(records.filter((r) => r.failure).length, 0, 'nothing recorded as failed');
    client.socket.destroy();
    const [record] = await waitFor(() => inbound('/events?alone').length > 0 && inbound('/events?alone'), 2_000, 'the record once the caller left');
    assert.equal(record!.failure, undefined);
    assert.equal(record!.downstreamReset, true, 'ended by the caller, not by the mesh');
  });

  test('an answer whose headers have not gone out gets the mesh\'s 403, exactly as a new request would; the connection goes on', async () => {
    await setRules(rules(['/slow']));
    const fresh = await get('/slow');
    assert.equal(fresh.status, 403);
    await setRules(rules());
    records.length = 0;

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const pending = get('/slow', agent);
      await waitFor(() => held.has('/slow'), 5_000, 'the request to reach the app');
      await setRules(rules(['/slow']));
      const answer = await pending;
      assert.equal(answer.status, 403);
      assert.equal(answer.headers['x-mesh-error'], fresh.headers['x-mesh-error']);
      assert.match(String(answer.headers['x-mesh-error']), /^intention_denied; hop=inbound; service=web; policy=intention web -> web \(deny, path-prefix \/slow\)/);
      assert.equal(answer.headers['content-type'], fresh.headers['content-type']);
      assert.equal(answer.body, fresh.body);
      await waitFor(() => appClosed.has('/slow'), 2_000, 'the app sees the request abandoned');

      const next = await get('/ok', agent);
      assert.equal(next.status, 200, 'the next request on the same connection is served');
      assert.equal(next.reused, true, 'on the same keep-alive connection');
    } finally {
      agent.destroy();
    }
    const slow = inbound('/slow');
    assert.equal(slow.length, 1, 'one record');
    assert.equal(slow[0]!.status, 403);
    assert.equal(slow[0]!.failure?.cause, 'intention_denied');
  });
});

describe('intentions flipping under load', () => {
  test('1,000 requests while a deny comes and goes: no uncaught error, one record per request per stage, nothing left in flight', async () => {
    const uncaught: unknown[] = [];
    const onError = (error: unknown) => void uncaught.push(error);
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    let flipping = true;
    let flips = 0;
    const flipper = (async () => {
      while (flipping) {
        const deny = flips++ % 2 === 0;
        await setRules(deny ? rules(['/d/chunks', '/d/later']) : rules());
        // Short denies between longer allows: a deny lands before some answers' headers, mid-body in others, after the rest.
        await new Promise((resolve) => setTimeout(resolve, deny ? 5 : 40));
      }
    })();
    const outcomes = { ok: 0, denied: 0, cut: 0 };
    try {
      const paths = ['/d/fast', '/d/chunks', '/d/later', '/d/fast'];
      let next = 0;
      const worker = async () => {
        while (next < 1_000) {
          const i = next++;
          try {
            const answer = await get(`${paths[i % paths.length]}?n=${i}`, agent);
            if (answer.status === 403) outcomes.denied++;
            else outcomes.ok++;
          } catch {
            outcomes.cut++;
          }
        }
      };
      await Promise.all(Array.from({ length: 50 }, worker));
    } finally {
      flipping = false;
      await flipper;
      agent.destroy();
    }
    try {
      assert.equal(outcomes.ok + outcomes.denied + outcomes.cut, 1_000, JSON.stringify(outcomes));
      const byStage = (direction: string) => records.filter((r) => r.direction === direction && /\?n=\d+$/.test(r.path));
      await waitFor(() => byStage('inbound').length >= 1_000 && byStage('outbound').length >= 1_000, 5_000, 'a record per request at both stages');
      for (const direction of ['inbound', 'outbound']) {
        const ns = byStage(direction).map((r) => Number(/n=(\d+)$/.exec(r.path)![1]));
        assert.equal(ns.length, 1_000, `${direction}: ${ns.length} records`);
        assert.equal(new Set(ns).size, 1_000, `${direction}: one record per request`);
      }
      const kinds = JSON.stringify(Object.entries(Object.groupBy(byStage('inbound'), (r) => `${r.path.split('?')[0]} ${r.status} ${r.failure?.cause ?? ''}`)).map(([k, v]) => [k, v!.length]));
      const inFlight = byStage('inbound').filter((r) => r.failure?.cause === 'intention_denied' && r.status === 200);
      assert.ok(inFlight.length > 0, `some answers were cut mid-body by a deny (${flips} flips, ${JSON.stringify(outcomes)}, ${kinds})`);
      assert.equal(outcomes.cut, inFlight.length, 'every cut the callers saw is a deny the inbound stage recorded');
      await waitFor(() => bed.proxy.exchangesInFlight === 0, 2_000, 'no exchange left in flight');
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    }
  });
});
