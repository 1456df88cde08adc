// The records the proxy hands its telemetry sinks, on the awkward endings of a
// request, through both stages of a real proxy (test/helpers/proxy-bed.ts):
// exactly one record per stage, and the blame where it belongs. A caller that
// hangs up is not the app's failure; an app that breaks off mid-answer is; a
// streamed body's bytes are counted; and a streaming answer holds its
// max_requests slot until it ends.

import assert from 'node:assert/strict';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import type { HttpRecord } from '../../src/proxy/telemetry/records.ts';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';
import { waitFor } from '../helpers/server.ts';
import { listenLoopback } from '../helpers/listen.ts';

let app: Server;
let bed: ProxyBed;
const records: HttpRecord[] = [];
/** Streaming answers the app holds open, ended by the test. */
const open: ServerResponse[] = [];
let appSawClose = 0;

before(async () => {
  app = createServer((req, res) => {
    if (req.url === '/slow') {
      req.socket.once('close', () => appSawClose++);
      return void setTimeout(() => res.headersSent || res.destroyed || res.end('late'), 2000);
    }
    if (req.url === '/stream') {
      res.writeHead(200);
      res.write('first');
      open.push(res);
      return;
    }
    if (req.url === '/break') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('part');
      return void setTimeout(() => res.socket?.destroy(), 50);
    }
    let n = 0;
    req.on('data', (chunk: Buffer) => (n += chunk.length));
    req.on('end', () => res.end(`got ${n}`));
  });
  const port = await listenLoopback(app);
  bed = await startProxyBed('web', [{ id: 'a', port }], { protocol: 'http', retries: { num_retries: 0 }, circuit_breaker: { max_requests: 2 } });
  bed.proxy.telemetry.add({ http: (r) => void records.push(r) });
  // A warm pool: a caller giving up within 150 ms must find its request already at the inbound stage, not still handshaking.
  assert.match(await send('/warm'), /^200 /);
});

after(async () => {
  for (const res of open) res.destroy();
  await bed?.close();
  app.closeAllConnections();
  app.close();
});

beforeEach(() => {
  records.length = 0;
});

const byStage = () => Object.fromEntries(records.map((r) => [r.direction, r])) as Partial<Record<HttpRecord['direction'], HttpRecord>>;
const bothRecorded = (what: string) => waitFor(() => records.length >= 2 && byStage(), 5000, `a record from each stage (${what})`);

function send(path: string, options: { body?: Buffer; abortAfterMs?: number; abortOnFirstByte?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: bed.upstreamPort, path, method: options.body ? 'POST' : 'GET', headers: options.body ? { 'transfer-encoding': 'chunked' } : {} }, (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
        if (options.abortOnFirstByte) {
          req.destroy();
          resolve('aborted');
        }
      });
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
      res.on('error', (error) => resolve(`error ${error.message}`));
    });
    req.on('error', (error) => resolve(`request error ${error.message}`));
    if (options.abortAfterMs) setTimeout(() => req.destroy(), options.abortAfterMs);
    if (options.body) {
      for (let i = 0; i < options.body.length; i += 16_384) req.write(options.body.subarray(i, i + 16_384));
    }
    req.end();
  });
}

test('a caller that gives up before any answer: 499 at both stages, marked as a hang-up, not the app failing', async () => {
  await send('/slow', { abortAfterMs: 150 });
  const { outbound, inbound } = await bothRecorded('/slow abandoned');
  assert.equal(records.length, 2, 'one record per stage');
  for (const r of [outbound!, inbound!]) {
    assert.equal(r.status, 499, `${r.direction} status`);
    assert.equal(r.downstreamReset, true, `${r.direction} marks the hang-up`);
    assert.equal(r.failure, undefined, `${r.direction}: no mesh failure, no local_app_unreachable`);
  }
});

test('a caller that hangs up mid-answer: recorded once per stage with the status sent', async () => {
  assert.equal(await send('/stream', { abortOnFirstByte: true }), 'aborted');
  const { outbound, inbound } = await bothRecorded('/stream abandoned');
  assert.deepEqual([outbound!.status, outbound!.downstreamReset, inbound!.status, inbound!.downstreamReset], [200, true, 200, true]);
});

test('an app that breaks off mid-answer is an upstream reset at both stages, not a success', async () => {
  const seen = await send('/break');
  assert.match(seen, /^error|^200 part$/, 'the caller sees the cut answer');
  const { outbound, inbound } = await bothRecorded('/break');
  assert.equal(outbound!.failure?.cause, 'upstream_reset');
  assert.equal(inbound!.failure?.cause, 'upstream_reset');
  assert.equal(inbound!.failure?.hop, 'inbound');
});

test("a streamed (chunked) body's bytes are counted at both stages", async () => {
  const body = Buffer.alloc(200 * 1024, 'x');
  assert.equal(await send('/upload', { body }), `200 got ${body.length}`);
  const { outbound, inbound } = await bothRecorded('/upload');
  assert.equal(outbound!.requestBytes, body.length);
  assert.equal(inbound!.requestBytes, body.length);
  assert.equal(outbound!.responseBytes, `got ${body.length}`.length);
});

test('a streaming answer holds its max_requests slot until it ends', async () => {
  open.length = 0;
  const first = send('/stream');
  const second = send('/stream');
  await waitFor(() => open.length === 2, 5000, 'two streaming answers open');
  const third = await send('/ok');
  assert.match(third, /^503 /, 'max_requests=2 is full while two answers stream');
  for (const res of open.splice(0)) res.end('done');
  assert.deepEqual(await Promise.all([first, second]), ['200 firstdone', '200 firstdone']);
  assert.match(await send('/ok'), /^200 /, 'the slots are free again');
});

test('durations are measured to the microsecond at both stages, and the inbound one lies within the outbound one', async () => {
  for (let i = 0; i < 20; i++) {
    records.length = 0;
    assert.match(await send('/ok'), /^200 /);
    const { outbound, inbound } = await bothRecorded('/ok');
    // A clock of whole milliseconds would give whole numbers (it did at the inbound stage): 20 in a row cannot all be.
    assert.ok(outbound!.durationMs >= inbound!.durationMs, `outbound ${outbound!.durationMs} ≥ inbound ${inbound!.durationMs}`);
    if (!Number.isInteger(inbound!.durationMs) && !Number.isInteger(outbound!.durationMs)) return;
  }
  assert.fail('20 requests all had a whole-millisecond duration at one stage');
});
