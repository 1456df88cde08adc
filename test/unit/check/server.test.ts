// The server group's decisions, over a scripted HTTP getter: which failure
// ends the group, what each answer means. (The real server is in
// test/integration/check.test.ts.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GetOptions, HttpGet, HttpOutcome } from '../../../src/cli/check/http.ts';
import { runServerChecks } from '../../../src/cli/check/server.ts';
import { resolveTarget, type Target } from '../../../src/cli/target.ts';

const now = Date.parse('2026-05-01T12:00:00.400Z');
const ok = (body: unknown, status = 200): HttpOutcome => ({ kind: 'response', status, body: typeof body === 'string' ? body : JSON.stringify(body), date: new Date(now).toUTCString(), sentAt: now, receivedAt: now + 10 });

function scripted(answers: Record<string, HttpOutcome>): { get: HttpGet; seen: Array<[string, GetOptions | undefined]> } {
  const seen: Array<[string, GetOptions | undefined]> = [];
  return {
    seen,
    get: async (url, options) => {
      seen.push([url, options]);
      const path = new URL(url).pathname;
      return answers[path] ?? ok('not found', 404);
    },
  };
}

const http: Target = { url: 'http://127.0.0.1:8500', token: 'secret', source: 'env' };
const healthy = { '/v1/status/leader': ok('"127.0.0.1:8500"'), '/v1/acl/token/self': ok({ AccessorID: '0123456789', MeshPolicy: 'read' }), '/v1/agent/self': ok({ Config: { Version: '0.1.0' } }) };
const summary = (results: Array<{ name: string; status: string }>) => results.map((r) => `${r.status} ${r.name}`);

test('a healthy server passes every check; the token goes only where it is needed', async () => {
  const { get, seen } = scripted(healthy);
  const results = await runServerChecks(http, { get });
  assert.deepEqual(summary(results), ['pass server reachable', 'pass server API answers', 'pass token valid', 'pass clock skew']);
  assert.match(results[1]!.detail, /leader 127\.0\.0\.1:8500, version 0\.1\.0/);
  assert.match(results[2]!.detail, /accessor 01234567…, policy read/);
  assert.equal(seen.find(([url]) => url.endsWith('/v1/status/leader'))?.[1]?.headers, undefined, 'reachability is asked without the token');
});

test('each way a server goes wrong', async () => {
  const cases: Array<[string, Target, Record<string, HttpOutcome>, string[], RegExp]> = [
    ['refused', http, { '/v1/status/leader': { kind: 'error', code: 'ECONNREFUSED', tls: false } }, ['fail server reachable'], /no answer from http:\/\/127\.0\.0\.1:8500 \(from MESHCTL_SERVER\): ECONNREFUSED/],
    ['unknown token', http, { ...healthy, '/v1/acl/token/self': ok('ACL not found', 403) }, ['pass server reachable', 'pass server API answers', 'fail token valid', 'pass clock skew'], /does not know this token \(ACL not found\)/],
    ['no token', { ...http, token: undefined }, healthy, ['pass server reachable', 'pass server API answers', 'warn token valid', 'pass clock skew'], /no token given/],
    ['not a meshctl server', http, { '/v1/status/leader': ok('<html>', 200) }, ['pass server reachable', 'fail server API answers'], /answered 200: <html>/],
    ['no leader', http, { ...healthy, '/v1/status/leader': ok('""') }, ['pass server reachable', 'fail server API answers', 'pass token valid', 'pass clock skew'], /no leader/],
    ['clock 40 s off', http, { ...healthy, '/v1/status/leader': { ...(ok('"x:1"') as object), date: new Date(now + 40_000).toUTCString() } as HttpOutcome }, ['pass server reachable', 'pass server API answers', 'pass token valid', 'fail clock skew'], /ahead/],
    ['TLS unverified', { ...http, url: 'https://10.0.0.1:8501' }, { '/v1/status/leader': { kind: 'error', code: 'SELF_SIGNED_CERT_IN_CHAIN', tls: true } }, ['pass server reachable', 'fail server TLS verified'], /does not verify against the system CAs: SELF_SIGNED_CERT_IN_CHAIN/],
    ['TLS skipped', { ...http, url: 'https://10.0.0.1:8501', tls: { rootsPem: [], insecureSkipVerify: true } }, healthy, ['pass server reachable', 'warn server TLS verified', 'pass server API answers', 'pass token valid', 'pass clock skew'], /insecure-skip-verify/],
    ['plain HTTP off this host', { ...http, url: 'http://10.0.0.1:8500' }, healthy, ['pass server reachable', 'warn server TLS verified', 'pass server API answers', 'pass token valid', 'pass clock skew'], /in clear/],
  ];
  for (const [what, target, answers, expected, detail] of cases) {
    const results = await runServerChecks(target, scripted(answers));
    assert.deepEqual(summary(results), expected, what);
    const notable = results.find((r) => r.status !== 'pass')!;
    assert.match(notable.detail, detail, what);
    assert.ok(notable.hint, `${what}: a hint`);
  }
});

test("a TLS or plain-HTTP hint on a joined host that MESHCTL_SERVER or --server overrides says to drop the override, not to run on a joined host", async () => {
  const unverified = { '/v1/status/leader': { kind: 'error', code: 'SELF_SIGNED_CERT_IN_CHAIN', tls: true } as HttpOutcome };
  const cases: Array<[string, Target, Record<string, HttpOutcome>, string]> = [
    [
      'MESHCTL_SERVER over a joined host',
      { url: 'https://10.0.0.9:8501', token: 'secret', source: 'env', joinedServer: 'https://10.0.0.1:8501' },
      unverified,
      'set MESHCTL_CA_FILE to the mesh CA root (meshctl ca show --json on the server), or unset MESHCTL_SERVER: this host is joined to https://10.0.0.1:8501, whose CA its agent holds, and MESHCTL_SERVER points at https://10.0.0.9:8501 instead',
    ],
    [
      '--server over a joined host, plain HTTP',
      { url: 'http://10.0.0.1:8500', token: 'secret', source: 'flag', joinedServer: 'https://10.0.0.1:8501' },
      healthy,
      "use the server's TLS API (https://HOST:8501) with MESHCTL_CA_FILE, or drop --server: this host is joined to https://10.0.0.1:8501, whose CA its agent holds, and --server points at http://10.0.0.1:8500 instead",
    ],
    [
      "the joined agent's own server",
      { url: 'https://10.0.0.1:8501', token: 'secret', source: 'agent-config', tls: { rootsPem: ['x'] } },
      unverified,
      'set MESHCTL_CA_FILE to the mesh CA root (meshctl ca show --json on the server), or join this host again if the mesh CA has changed since it joined',
    ],
    ['a host not joined', { url: 'https://10.0.0.1:8501', token: 'secret', source: 'env' }, unverified, 'set MESHCTL_CA_FILE to the mesh CA root (meshctl ca show --json on the server), or run the command on a joined host'],
  ];
  for (const [what, target, answers, hint] of cases) {
    const tls = (await runServerChecks(target, scripted(answers))).find((r) => r.name === 'server TLS verified');
    assert.equal(tls?.hint, hint, what);
  }
});

test('the target notes the joined server only when an override points elsewhere', () => {
  const agentConfig = { server: 'https://10.0.0.1:8501', token: 'agent', serverCaPem: ['x'], dataDir: '/var/lib/meshctl' };
  assert.equal(resolveTarget({ env: { MESHCTL_SERVER: '10.0.0.9:8500' }, agentConfig }).joinedServer, 'https://10.0.0.1:8501');
  assert.equal(resolveTarget({ flagServer: 'https://10.0.0.9:8501', env: {}, agentConfig }).joinedServer, 'https://10.0.0.1:8501');
  assert.equal(resolveTarget({ env: { MESHCTL_SERVER: 'https://10.0.0.1:8501' }, agentConfig }).joinedServer, undefined, 'the same server');
  assert.equal(resolveTarget({ env: {}, agentConfig }).joinedServer, undefined, "the agent's own");
  assert.equal(resolveTarget({ env: { MESHCTL_SERVER: '10.0.0.9:8500' } }).joinedServer, undefined, 'not joined');
});
