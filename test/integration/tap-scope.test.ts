// Tap against a real server with ACLs: an agent sees the sessions only when
// its node runs a service, can put into an operator's tap only what its own
// proxies see, and its token cannot take the slots the operators need.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TAP_MAX_SESSIONS_PER_TOKEN } from '../../src/config/tap.ts';
import { cliFor } from '../helpers/cli.ts';
import { api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
const tokens = { host1: '', host2: '', host3: '' };
const as = (token: string) => ({ url: server.url, token });

async function makeToken(body: unknown): Promise<string> {
  const res = await api(server, 'PUT', '/v1/acl/token', body);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { SecretID: string }).SecretID;
}
async function register(token: string, node: string, service: string): Promise<void> {
  const res = await api(as(token), 'PUT', '/v1/catalog/register', { Node: node, Address: '10.0.0.1', Service: { Service: service, Port: 8080 } });
  assert.equal(res.status, 200, await res.text());
}
/** Opens a tap stream; close() ends it. */
async function openTap(token: string, query = 'service=api'): Promise<{ status: number; res: Response; close: () => void }> {
  const ac = new AbortController();
  const res = await fetch(`${server.url}/v1/mesh/tap?${query}`, { headers: { 'X-Consul-Token': token }, signal: ac.signal });
  return { status: res.status, res, close: () => ac.abort() };
}
const sessionsFor = async (token: string, node: string) => {
  const res = await api(as(token), 'GET', `/v1/mesh/tap/sessions?node=${node}`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { sessions: Array<{ id: string; service: string }> }).sessions;
};
const event = (over: Record<string, unknown>) => ({ time: new Date().toISOString(), direction: 'inbound', source: 'frontend', destination: 'api', method: 'GET', path: '/users', status: 200, latencyMs: 1, endpoint: 'host-1/api', requestId: 'r', ...over });

before(async () => {
  server = await startServer();
  tokens.host1 = await makeToken({ NodeIdentities: [{ NodeName: 'host-1' }], ServiceIdentities: [{ ServiceName: 'api' }] });
  tokens.host2 = await makeToken({ NodeIdentities: [{ NodeName: 'host-2' }], ServiceIdentities: [{ ServiceName: 'web' }] });
  tokens.host3 = await makeToken({ NodeIdentities: [{ NodeName: 'host-3' }], ServiceIdentities: [{ ServiceName: 'db' }] });
  await register(tokens.host1, 'host-1', 'api');
  await register(tokens.host2, 'host-2', 'web');
  // Tap sees HTTP requests only: api says it speaks HTTP; web keeps the default, tcp.
  const http = await api(server, 'PUT', '/v1/mesh/config/service-defaults/api', { protocol: 'http' });
  assert.equal(http.status, 200, await http.text());
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

test("an agent cannot put into an operator's tap what another host's proxies saw", async () => {
  const tap = await openTap(server.token, 'service=api&limit=2');
  assert.equal(tap.status, 200);
  const [session] = await sessionsFor(tokens.host2, 'host-2');
  assert.ok(session, 'host-2 runs web, a possible caller of api: it sees the session');
  assert.deepEqual(await sessionsFor(tokens.host3, 'host-3'), [], 'host-3 runs nothing: it sees none');
  // host-2 (web) claims what api's inbound proxy on host-1 saw, and a call frontend made: both refused.
  const forged = await api(as(tokens.host2), 'POST', '/v1/mesh/tap/events', {
    node: 'host-2',
    sessions: [{ id: session.id, dropped: 0, events: [event({ path: '/admin/delete-everything', requestId: 'forged' }), event({ direction: 'outbound', requestId: 'forged-out' })] }],
  });
  assert.equal(forged.status, 200);
  // What host-2 may say (web's own outbound call), then host-1's inbound view: the two lines the stream ends with.
  for (const [token, node, e] of [[tokens.host2, 'host-2', event({ direction: 'outbound', source: 'web', requestId: 'web-call' })], [tokens.host1, 'host-1', event({ requestId: 'api-served' })]] as const) {
    const res = await api(as(token), 'POST', '/v1/mesh/tap/events', { node, sessions: [{ id: session.id, dropped: 0, events: [e] }] });
    assert.equal(res.status, 200);
  }
  const lines = (await tap.res.text()).trim().split('\n').map((l) => JSON.parse(l) as { requestId: string; node: string; path: string });
  assert.deepEqual(lines.map((l) => [l.requestId, l.node]), [['web-call', 'host-2'], ['api-served', 'host-1']]);
  assert.ok(!lines.some((l) => l.path === '/admin/delete-everything'));
});

test('a tcp service is refused at once with why and how, rather than a tap that waits forever showing nothing', async () => {
  const tap = await openTap(server.token, 'service=web');
  assert.equal(tap.status, 400);
  assert.equal(await tap.res.text(), 'web is a tcp service: tap shows HTTP, HTTP/2 and gRPC requests; its connections are in meshctl stat and the access log\n');
  const cli = cliFor(() => server).run(['tap', 'web']);
  assert.equal(cli.code, 1, cli.stdout + cli.stderr);
  assert.equal(cli.stdout, '');
  assert.equal(cli.stderr, 'error: the server answered 400: web is a tcp service: tap shows HTTP, HTTP/2 and gRPC requests; its connections are in meshctl stat and the access log (if web speaks HTTP, set its protocol: meshctl config set service-defaults web protocol=http|http2|grpc)\n');
});

test('an empty --method or --path-prefix is a usage error, not a tap without that filter', () => {
  const cli = cliFor(() => server);
  const method = cli.run(['tap', 'api', '--method', '']);
  assert.equal(method.code, 2, method.stdout + method.stderr);
  assert.equal(method.stderr, 'error: --method is empty (give an HTTP method such as --method GET, or leave --method out to see every method)\n');
  const prefix = cli.run(['tap', 'api', '--path-prefix', '']);
  assert.equal(prefix.code, 2, prefix.stdout + prefix.stderr);
  assert.match(prefix.stderr, /^error: --path-prefix is empty \(give a path prefix/);
});

test('an agent token cannot take every tap slot: it holds a few, and the operator still taps', async () => {
  const held: Array<() => void> = [];
  try {
    const statuses: number[] = [];
    for (let i = 0; i < TAP_MAX_SESSIONS_PER_TOKEN + 1; i++) {
      const t = await openTap(tokens.host1);
      held.push(t.close);
      statuses.push(t.status);
      if (t.status !== 200) {
        assert.equal(await t.res.text(), `this token holds ${TAP_MAX_SESSIONS_PER_TOKEN} tap sessions, the most one token may\n`, 'the body stays the plain reason');
        assert.equal(t.res.headers.get('X-Mesh-Error-Hint'), 'end one of its meshctl tap streams, or tap with another token');
      }
    }
    assert.deepEqual(statuses, [...Array(TAP_MAX_SESSIONS_PER_TOKEN).fill(200), 429]);
    // The real CLI, one tap too many: the server's hint is what it says to do.
    const cli = cliFor(() => server).run(['tap', 'api'], tokens.host1);
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.equal(cli.stderr, `error: the server answered 429: this token holds ${TAP_MAX_SESSIONS_PER_TOKEN} tap sessions, the most one token may (end one of its meshctl tap streams, or tap with another token)\n`);
    const operator = await openTap(server.token);
    held.push(operator.close);
    assert.equal(operator.status, 200, 'the operator taps while the agent token holds its share');
  } finally {
    for (const close of held) close();
  }
});

test("a node's first service ends its agent's wait: the open sessions come then, not at the next session change", async () => {
  const token = await makeToken({ NodeIdentities: [{ NodeName: 'host-4' }], ServiceIdentities: [{ ServiceName: 'cache' }] });
  const poll = (index: string, wait = '30s') => api(as(token), 'GET', `/v1/mesh/tap/sessions?node=host-4&index=${index}&wait=${wait}`);
  const tap = await openTap(server.token, 'service=api');
  try {
    const idle = await poll('0');
    assert.deepEqual(((await idle.json()) as { sessions: unknown[] }).sessions, [], 'host-4 runs nothing yet');
    const index = idle.headers.get('X-Consul-Index') ?? '';
    const waiting = poll(index);
    // The node itself and a check of its own (its topic moves) are no service: the wait goes on.
    const nodeOnly = await api(as(token), 'PUT', '/v1/catalog/register', { Node: 'host-4', Address: '10.0.0.4', Check: { CheckID: 'disk', Name: 'disk', Status: 'passing' } });
    assert.equal(nodeOnly.status, 200, await nodeOnly.text());
    const stillWaiting = Symbol('waiting');
    assert.equal(await Promise.race([waiting.then(() => 'answered'), new Promise((resolve) => setTimeout(resolve, 300, stillWaiting))]), stillWaiting);
    const registeredAt = Date.now();
    await register(token, 'host-4', 'cache');
    const answer = await waiting;
    const tookMs = Date.now() - registeredAt;
    assert.equal(answer.status, 200);
    assert.deepEqual(((await answer.json()) as { sessions: Array<{ service: string }> }).sessions.map((s) => s.service), ['api']);
    assert.ok(tookMs < 5_000, `answered ${tookMs} ms after the registration (the wait was 30 s)`);
    assert.notEqual(answer.headers.get('X-Consul-Index'), index);
    // An index from before the registration is answered at once, with the sessions.
    const stale = await poll(index);
    assert.equal(((await stale.json()) as { sessions: unknown[] }).sessions.length, 1);
    // The index it was given now waits again (30 s), until the session ends.
    const current = answer.headers.get('X-Consul-Index') ?? '';
    const next = poll(current);
    assert.equal(await Promise.race([next.then(() => 'answered'), new Promise((resolve) => setTimeout(resolve, 300, stillWaiting))]), stillWaiting, 'the current index waits');
    tap.close();
    assert.deepEqual(((await (await next).json()) as { sessions: unknown[] }).sessions, []);
  } finally {
    tap.close();
  }
});
