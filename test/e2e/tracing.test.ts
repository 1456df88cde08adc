// Tracing across hosts on the namespace test bed: a caller on host 1 calls
// frontend (host 2), which calls api (host 3), which calls db (host 4), each
// through its agent's proxy. The apps pass on the trace and request-id
// headers they receive, as instrumented apps do. The agents export spans over
// OTLP/HTTP to a stand-in collector on the server's host, which decodes them
// with OpenTelemetry's own protobuf reader (test/helpers/otlp-decode.ts) and
// prints them; the test reads them from its output.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MESHCTL, ROOT, removeDir, startServer, waitFor, type ServerProcess } from '../helpers/server.ts';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';
import type { DecodedSpan } from '../helpers/otlp-decode.ts';

const NODE = process.execPath;
const PORT = 8500;
const OTLP_PORT = 4318;

// Answers {service, got: the trace headers it received, next: what its own call answered}.
const APP = (service: string, nextPort?: number) => `
const http = require('node:http');
const PASS = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'x-request-id'];
http.createServer((req, res) => {
  const got = {};
  for (const name of PASS) if (req.headers[name] !== undefined) got[name] = req.headers[name];
  const answer = (status, next) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify({ service: '${service}', got, next })); };
  ${nextPort === undefined ? 'answer(200);' : `http.get({ host: '127.0.0.1', port: ${nextPort}, path: req.url, headers: got }, (r) => {
    let body = ''; r.on('data', (d) => (body += d));
    r.on('end', () => { let next; try { next = JSON.parse(body); } catch { next = { status: r.statusCode, body }; } answer(r.statusCode, next); });
  }).on('error', (e) => answer(502, { error: e.message }));`}
}).listen(8081, '127.0.0.1');`;

interface AppAnswer {
  service: string;
  got: Record<string, string>;
  next?: AppAnswer;
}

let bed: Testbed;
let server: ServerProcess;
let srv: TestbedHost, caller: TestbedHost, fe: TestbedHost, api: TestbedHost, db: TestbedHost;
const spans: DecodedSpan[] = [];
let receiverErrors = '';
const dirs = (h: TestbedHost) => ['--data-dir', join(h.dir, 'data'), '--config-dir', join(h.dir, 'conf')];

async function meshctl(host: TestbedHost, args: string[]) {
  const r = await host.exec(MESHCTL, args, { env: { ...process.env, MESHCTL_SERVER: `${srv.ip}:${PORT}`, MESHCTL_TOKEN: server.token, MESHCTL_CONFIG_DIR: join(host.dir, 'conf') }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meshctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A GET from the caller's host through its upstream port for frontend; the chain's answers. */
async function call(headers: Record<string, string> = {}): Promise<{ status: number; body: AppAnswer }> {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), 'http://127.0.0.1:9190/orders'];
  const r = await caller.exec('curl', args, { timeoutMs: 30_000 });
  const cut = r.stdout.lastIndexOf('\n');
  const status = Number(r.stdout.slice(cut + 1));
  let body: AppAnswer;
  try {
    body = JSON.parse(r.stdout.slice(0, cut)) as AppAnswer;
  } catch {
    body = { service: '', got: {} };
  }
  return { status, body };
}

const ofTrace = (traceId: string) => spans.filter((s) => s.traceId === traceId);
/** Waits for the n spans of a trace (every agent exports on its own schedule). */
const traceOf = (traceId: string, n: number) => timed(`trace ${traceId}`, () => waitFor(() => ofTrace(traceId).length >= n && ofTrace(traceId), 20_000, `${n} spans of trace ${traceId} (have ${ofTrace(traceId).length}; ${receiverErrors})`));
async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const out = await run();
  process.stderr.write(`${what}: ${Date.now() - t0} ms\n`);
  return out;
}

/** The six hops of a chain, by service and kind, in order. */
function chain(trace: DecodedSpan[]): DecodedSpan[] {
  const order: Array<[string, DecodedSpan['kind']]> = [['client', 'CLIENT'], ['frontend', 'SERVER'], ['frontend', 'CLIENT'], ['api', 'SERVER'], ['api', 'CLIENT'], ['db', 'SERVER']];
  return order.map(([service, kind]) => {
    const found = trace.filter((s) => s.service === service && s.kind === kind);
    assert.equal(found.length, 1, `one ${kind} span of ${service}: ${JSON.stringify(trace.map((s) => [s.service, s.kind]))}`);
    return found[0] as DecodedSpan;
  });
}

const configVersion = async (h: TestbedHost) => (JSON.parse(await meshctl(h, ['status', '--json'])) as { configVersion: number }).configVersion;

before(async () => {
  bed = await createTestbed({ hosts: 5, name: 'tracing' });
  [srv, caller, fe, api, db] = bed.hosts as [TestbedHost, TestbedHost, TestbedHost, TestbedHost, TestbedHost];
  server = await startServer({ netns: srv.name, host: srv.ip, port: PORT, httpsPort: 8501 });
  const receiver = srv.spawn(NODE, [join(ROOT, 'test', 'helpers', 'otlp-receiver.ts'), srv.ip, String(OTLP_PORT)]);
  let partial = '';
  receiver.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as DecodedSpan | { listening: string };
      if ('traceId' in parsed) spans.push(parsed);
    }
  });
  receiver.stderr?.on('data', (d: Buffer) => (receiverErrors += d.toString()));
  receiver.once('exit', (code, signal) => (receiverErrors += `[receiver exited ${code ?? signal}]`));
  fe.spawn(NODE, ['-e', APP('frontend', 9191)]);
  api.spawn(NODE, ['-e', APP('api', 9192)]);
  db.spawn(NODE, ['-e', APP('db')]);
  // Before any agent joins: each one starts with tracing on.
  await meshctl(srv, ['config', 'set', 'mesh', 'default_policy=allow', `tracing.otlp_endpoint=http://${srv.ip}:${OTLP_PORT}/v1/traces`, 'tracing.sampling=1']);
  for (const service of ['frontend', 'api', 'db']) await meshctl(srv, ['config', 'set', 'service-defaults', service, 'protocol=http', 'retries.num_retries=0']);
  const common = ['--ca-hash', server.caHash, '--token', server.token, '--heartbeat-interval', '1s'];
  await meshctl(db, ['join', server.httpsUrl, ...common, '--node-name', 'host-db', '--service', 'db=8081', ...dirs(db)]);
  await meshctl(api, ['join', server.httpsUrl, ...common, '--node-name', 'host-api', '--service', 'api=8081', '--upstream', 'db:9192', ...dirs(api)]);
  await meshctl(fe, ['join', server.httpsUrl, ...common, '--node-name', 'host-frontend', '--service', 'frontend=8081', '--upstream', 'api:9191', ...dirs(fe)]);
  await meshctl(caller, ['join', server.httpsUrl, ...common, '--node-name', 'host-caller', '--service', 'client=7000', '--upstream', 'frontend:9190', ...dirs(caller)]);
  await waitFor(async () => (await call()).body.next?.next?.service === 'db', 30_000, 'the caller to reach db through frontend and api');
});

after(async () => {
  await server?.stop();
  await bed?.destroy();
  removeDir(server?.dataDir ?? '');
});

test('a request from outside any trace becomes one trace of six spans, parent to child across four hosts', async () => {
  const { status, body } = await call();
  assert.equal(status, 200);
  // The edge made the request id and a trace, and the frontend app got both, in W3C and B3.
  const requestId = body.got['x-request-id'];
  assert.match(requestId ?? '', /^[0-9a-f-]{36}$/);
  const traceId = /^00-([0-9a-f]{32})-/.exec(body.got.traceparent ?? '')?.[1];
  assert.ok(traceId, `frontend got a traceparent: ${JSON.stringify(body.got)}`);
  assert.equal(body.got['x-b3-traceid'], traceId, 'and the same trace in B3 multi');
  assert.equal(body.next?.got['x-request-id'], requestId);
  assert.equal(body.next?.next?.got['x-request-id'], requestId, 'the request id is the same at db');

  const hops = chain(await traceOf(traceId, 6));
  const [callerOut, feIn, feOut, apiIn, apiOut, dbIn] = hops as [DecodedSpan, DecodedSpan, DecodedSpan, DecodedSpan, DecodedSpan, DecodedSpan];
  assert.equal(callerOut.parentSpanId, '', 'the caller-side span is the root');
  assert.deepEqual(hops.slice(1).map((s) => s.parentSpanId), hops.slice(0, -1).map((s) => s.spanId), 'each hop is the child of the one before');
  assert.deepEqual(hops.map((s) => s.attributes['meshctl.node']), ['host-caller', 'host-frontend', 'host-frontend', 'host-api', 'host-api', 'host-db']);
  assert.deepEqual(hops.map((s) => s.attributes['meshctl.request_id']), Array(6).fill(requestId));
  assert.deepEqual(hops.map((s) => s.attributes['http.response.status_code']), Array(6).fill(200));
  assert.deepEqual(hops.map((s) => s.status.code), Array(6).fill('UNSET'));
  assert.deepEqual([callerOut, feOut, apiOut].map((s) => s.attributes['peer.service']), ['frontend', 'api', 'db']);
  assert.deepEqual([feIn, apiIn, dbIn].map((s) => [s.attributes['meshctl.source'], s.attributes['meshctl.destination'], s.attributes['meshctl.mtls']]), [['client', 'frontend', true], ['frontend', 'api', true], ['api', 'db', true]]);
  assert.match(String(callerOut.attributes['meshctl.endpoint']), /^host-frontend\b/, 'the caller names the instance that answered');
  assert.equal(dbIn.name, 'GET db');
});

test('a request that comes with B3 multi headers continues that trace, and the apps get B3 multi back', async () => {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const { status, body } = await call({ 'X-B3-TraceId': traceId, 'X-B3-SpanId': spanId, 'X-B3-Sampled': '1', 'x-request-id': 'given-id-1' });
  assert.equal(status, 200);
  assert.equal(body.got['x-b3-traceid'], traceId);
  assert.equal(body.got.traceparent, undefined, 'the format it came in, and only that');
  assert.equal(body.got['x-b3-parentspanid']?.length, 16);
  const hops = chain(await traceOf(traceId, 6));
  assert.equal(hops[0]?.parentSpanId, spanId, "the caller-side span is the child of the app's span");
  assert.deepEqual(hops.slice(1).map((s) => s.parentSpanId), hops.slice(0, -1).map((s) => s.spanId));
  assert.deepEqual(hops.map((s) => s.attributes['meshctl.request_id']), Array(6).fill('given-id-1'), 'a given request id is kept');
});

test('a mesh failure is an error span with its cause', async () => {
  // An intention denies api → db: db's proxy answers 403 itself (x-mesh-error), which its span must say.
  const traceId = randomBytes(16).toString('hex');
  await meshctl(srv, ['intention', 'deny', 'api', 'db']);
  await waitFor(async () => (await call()).status !== 200, 15_000, 'the deny intention to reach db');
  const { body } = await call({ traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
  assert.equal(body.next?.got.traceparent?.slice(3, 35), traceId);
  const trace = await traceOf(traceId, 6);
  const dbIn = trace.find((s) => s.service === 'db' && s.kind === 'SERVER');
  assert.deepEqual(dbIn && { status: dbIn.status.code, code: dbIn.attributes['http.response.status_code'], cause: dbIn.attributes['meshctl.error.cause'] }, { status: 'ERROR', code: 403, cause: 'intention_denied' });
  assert.match(dbIn?.status.message ?? '', /^intention_denied/);
  await meshctl(srv, ['intention', 'delete', 'api', 'db']);
  await waitFor(async () => (await call()).status === 200, 15_000, 'the intention to be gone');
});

test('with sampling 0, a request without a sampled context exports nothing', async () => {
  const versions = await Promise.all([caller, fe, api, db].map(configVersion));
  await meshctl(srv, ['config', 'set', 'mesh', 'tracing.sampling=0']);
  for (const [i, h] of [caller, fe, api, db].entries()) await waitFor(async () => (await configVersion(h)) > (versions[i] ?? 0), 15_000, `${h.name} to apply sampling 0`);
  const unsampled = await call();
  assert.equal(unsampled.status, 200);
  const requestId = unsampled.body.got['x-request-id'];
  assert.match(unsampled.body.got.traceparent ?? '', /-00$/, 'the not-sampled decision is passed on');
  // A sampled request after it: once its six spans (one or two from every agent) are in, anything queued before them has been sent too.
  const marker = randomBytes(16).toString('hex');
  assert.equal((await call({ traceparent: `00-${marker}-${randomBytes(8).toString('hex')}-01` })).status, 200);
  await traceOf(marker, 6);
  assert.deepEqual(spans.filter((s) => s.attributes['meshctl.request_id'] === requestId), []);
  assert.equal(ofTrace(/^00-([0-9a-f]{32})-/.exec(unsampled.body.got.traceparent ?? '')?.[1] ?? '').length, 0);
});
