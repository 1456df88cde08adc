// meshctl intention and the intention API against a real server: the CLI
// round trip, the mesh default (deny on a new mesh), the Consul-compatible
// /v1/connect/intentions endpoints, input refused before anything is stored,
// ACLs, and concurrent edits of one destination.
//
// The npm `consul` client (2.x) has no intention or connect API, so there is
// no client-library test here; the Consul shapes are pinned over HTTP.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliFor } from '../helpers/cli.ts';
import { api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

const cli = cliFor(() => server);
const meshctl = cli.run;
const meshctlAsync = cli.runAsync;
const ok = cli.ok;
const json = async <T>(path: string, method = 'GET', body?: unknown): Promise<T> => {
  const res = await api(server, method, path, body);
  assert.equal(res.status, 200, `${method} ${path}: ${await res.clone().text()}`);
  return (await res.json()) as T;
};
const stored = async () => ((await (await api(server, 'GET', '/v1/mesh/config')).json()) as { Entries: Array<{ Kind: string; Name: string; Config: unknown }> }).Entries.filter((e) => e.Kind === 'service-intentions');

describe('meshctl intention', () => {
  test('a new mesh denies by default; config set mesh default_policy=allow opens it, delete closes it again', async () => {
    assert.equal(ok(['intention', 'check', 'web', 'api']), 'deny: web → api is denied by mesh default_policy=deny\n');
    assert.deepEqual(await json('/v1/connect/intentions/check?source=web&destination=api'), { Allowed: false });
    ok(['config', 'set', 'mesh', 'default_policy=allow']);
    assert.equal(ok(['intention', 'check', 'web', 'api']), 'allow: web → api is allowed by mesh default_policy=allow\n');
    assert.deepEqual(await json('/v1/connect/intentions/check?source=web&destination=api'), { Allowed: true });
    assert.match(ok(['config', 'get', 'mesh']), /^default_policy +allow$/m);
    const bad = meshctl(['config', 'set', 'mesh', 'default_policy=open']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /default_policy: expected one of allow, deny, got "open"/);
    ok(['config', 'delete', 'mesh']);
    assert.match(ok(['intention', 'check', 'web', 'api']), /^deny: .* mesh default_policy=deny$/m);
  });

  test('allow, deny, list, check and delete, L4 and L7, with precedence and wildcards', async () => {
    assert.equal(ok(['intention', 'allow', 'web', 'api']), 'allow: web → api\n');
    assert.equal(ok(['intention', 'deny', 'web', 'api', '--path-prefix', '/admin', '--method', 'GET', '--method', 'POST']), 'deny: web → api (path-prefix /admin, methods GET,POST)\n');
    ok(['intention', 'allow', '*', 'api', '--header', 'x-env=prod']);
    ok(['intention', 'deny', '*', '*']);

    const list = ok(['intention', 'list']);
    assert.match(list, /^SOURCE → DESTINATION +ACTION +MATCH +PRECEDENCE$/m);
    assert.match(list, /^web → api +deny +path-prefix \/admin, methods GET,POST +9$/m);
    assert.match(list, /^web → api +allow +all other requests +9$/m);
    assert.match(list, /^\* → api +allow +header x-env=prod +8$/m);
    assert.match(list, /^\* → \* +deny +all other requests +5$/m);
    assert.match(list, /mesh default_policy=deny/);

    assert.equal(ok(['intention', 'check', 'web', 'api']), 'allow: web → api is allowed by intention web → api (allow)\n');
    assert.equal(ok(['intention', 'check', 'web', 'api', '--path', '/%61dmin/../admin/x', '--method', 'POST']), 'deny: web → api POST /admin/x is denied by intention web → api (deny, path-prefix /admin, methods GET,POST)\n');
    assert.equal(ok(['intention', 'check', 'web', 'api', '--path', '/ADMIN']), 'allow: web → api GET /ADMIN is allowed by intention web → api (allow)\n');
    assert.equal(ok(['intention', 'check', 'cron', 'api', '--path', '/x', '--header', 'x-env=prod']), 'allow: cron → api GET /x is allowed by intention * → api (allow, header x-env=prod)\n');
    assert.equal(ok(['intention', 'check', 'cron', 'api', '--path', '/x']), 'deny: cron → api GET /x is denied by intention * → * (deny)\n');
    assert.match(ok(['intention', 'check', 'web', 'api', '--path', '/x%2Fy']), /^deny: .* refused by the proxy before any intention: .*encoded slash/);
    const explained = JSON.parse(ok(['intention', 'check', 'web', 'api', '--path', '//admin', '--json'])) as unknown;
    assert.deepEqual(explained, { Allowed: false, DecidedBy: 'intention web → api (deny, path-prefix /admin, methods GET,POST)', Precedence: 9, L7: true, Path: '/admin' });

    // Re-deciding the same match replaces its action; it does not add a second permission.
    ok(['intention', 'allow', 'web', 'api', '--path-prefix', '/admin', '--method', 'POST', '--method', 'GET']);
    const web = (await json<Array<{ SourceName: string; DestinationName: string; Permissions?: unknown[] }>>('/v1/connect/intentions')).find((i) => i.SourceName === 'web');
    assert.deepEqual(web?.Permissions, [{ Action: 'allow', HTTP: { PathPrefix: '/admin', Methods: ['GET', 'POST'] } }], 'the existing match is kept, with its new action');

    assert.equal(ok(['intention', 'delete', 'web', 'api', '--path-prefix', '/admin', '--method', 'GET', '--method', 'POST']), 'deleted web → api (path-prefix /admin, methods GET,POST)\n');
    assert.match(ok(['intention', 'delete', 'web', 'api', '--path-prefix', '/admin']), /nothing to delete/);
    ok(['intention', 'delete', 'web', 'api']);
    ok(['intention', 'delete', '*', 'api']);
    ok(['intention', 'delete', '*', '*']);
    assert.deepEqual(await stored(), [], 'an entry left without sources is deleted');
    assert.match(ok(['intention', 'list']), /^no intentions$/m);
  });

  test('bad input exits 2 naming the flag and the value, and stores nothing', async () => {
    ok(['intention', 'allow', 'web', 'db']);
    const before = await stored();
    const cases: Array<[string[], RegExp]> = [
      [['intention', 'deny', 'web', 'db', '--path-regex', '(a'], /--path-regex "\(a": not a valid RE2 regex/],
      [['intention', 'deny', 'web', 'db', '--path-regex', '(?<=x)y'], /--path-regex .*not a valid RE2 regex/],
      [['intention', 'deny', 'web', 'db', '--path-prefix', '/x%2Fy'], /--path-prefix "\/x%2Fy": .*encoded slash/],
      [['intention', 'deny', 'web', 'db', '--path-prefix', 'admin'], /--path-prefix "admin": must start with "\/"/],
      [['intention', 'deny', 'web', 'db', '--path-exact', '/a/../b'], /--path-exact "\/a\/..\/b": .*give "\/b"/],
      [['intention', 'deny', 'web', 'db', '--path-prefix', '/a', '--path-exact', '/b'], /at most one of --path-exact, --path-prefix, --path-regex/],
      [['intention', 'deny', 'web', 'db', '--header', '=x'], /invalid --header "=x"/],
      [['intention', 'deny', 'we b', 'db'], /invalid source "we b"/],
      [['intention', 'check', 'web', '*'], /invalid destination "\*"/],
      [['intention', 'allow', 'web'], /missing required argument/],
      [['intention', 'allow', 'web', 'db', '--path', '/x'], /unknown option '--path'/],
    ];
    for (const [args, message] of cases) {
      const r = meshctl(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.equal((await api(server, 'PUT', '/v1/mesh/config/service-intentions/db', { Sources: [{ Name: 'web', Permissions: [{ Action: 'deny', HTTP: { PathRegex: '(a' } }] }] })).status, 400);
    assert.equal((await api(server, 'PUT', '/v1/connect/intentions/exact?source=web&destination=db', { Action: 'maybe' })).status, 400);
    assert.deepEqual(await stored(), before, 'nothing was stored');
    ok(['intention', 'delete', 'web', 'db']);
  });

  test('writes need a management token; a read-only token reads; anonymous callers get nothing', async () => {
    const made = await api(server, 'PUT', '/v1/acl/token', { Policies: [{ Name: 'global-read-only' }] });
    assert.equal(made.status, 200);
    const reader = ((await made.json()) as { SecretID: string }).SecretID;
    for (const token of ['', reader]) {
      const r = meshctl(['intention', 'allow', 'web', 'api'], token);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the server refused the token/);
      // The server's hint (X-Mesh-Error-Hint) is what the CLI prints, not a generic one of its own.
      // (Without a token the command is refused at its first step, a read.)
      const hint = token === '' ? /\(pass a token with --token or MESHCTL_TOKEN \(X-Consul-Token over HTTP\); 'operator:read' needs a read-only or management token \(meshctl token create --policy read, on the server\)\)\n$/ : /\(the token is read-only; 'operator:write' needs a management token \(meshctl token create --policy management, on the server\)\)\n$/;
      assert.match(r.stderr, hint);
      assert.equal((await api({ url: server.url, token }, 'PUT', '/v1/connect/intentions/exact?source=web&destination=api', { Action: 'allow' })).status, 403);
      assert.equal((await api({ url: server.url, token }, 'PUT', '/v1/mesh/config/service-intentions/api', { Sources: [{ Name: 'web', Action: 'allow' }] })).status, 403);
    }
    assert.equal(meshctl(['intention', 'list'], reader).code, 0);
    assert.equal(meshctl(['intention', 'check', 'web', 'api'], reader).code, 0);
    assert.equal((await api({ url: server.url, token: '' }, 'GET', '/v1/connect/intentions')).status, 403);
    assert.deepEqual(await stored(), []);
  });

  test('Consul-compatible exact, list and check endpoints', async () => {
    assert.equal(await json('/v1/connect/intentions/exact?source=web&destination=api', 'PUT', { Action: 'deny', Description: 'not yet' }), true);
    assert.equal(await json('/v1/connect/intentions/exact?source=*&destination=api', 'PUT', { Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/public' } }] }), true);
    const one = await json<Record<string, unknown>>('/v1/connect/intentions/exact?source=web&destination=api');
    assert.equal(one.SourceName, 'web');
    assert.equal(one.DestinationName, 'api');
    assert.equal(one.Action, 'deny');
    assert.equal(one.Description, 'not yet');
    assert.equal(one.Precedence, 9);
    assert.match(String(one.ID), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.ok(Number(one.CreateIndex) > 0 && Number(one.ModifyIndex) >= Number(one.CreateIndex));
    const list = await json<Array<{ SourceName: string; Precedence: number; Permissions?: unknown }>>('/v1/connect/intentions');
    assert.deepEqual(list.map((i) => [i.SourceName, i.Precedence]), [['web', 9], ['*', 8]]);
    assert.deepEqual(await json('/v1/connect/intentions/check?source=web&destination=api'), { Allowed: false });
    assert.deepEqual(await json('/v1/mesh/intentions/explain?source=cron&destination=api&path=/public/x&method=GET'), { Allowed: true, DecidedBy: 'intention * → api (allow, path-prefix /public)', Precedence: 8, L7: true, Path: '/public/x' });
    assert.equal((await api(server, 'GET', '/v1/mesh/intentions/explain?source=cron&destination=api&path=/a%5Cb')).status, 400);
    assert.equal((await api(server, 'GET', '/v1/connect/intentions/exact?source=cron&destination=api')).status, 404);
    assert.equal(await json('/v1/connect/intentions/exact?source=web&destination=api', 'DELETE'), true);
    assert.equal(await json('/v1/connect/intentions/exact?source=*&destination=api', 'DELETE'), true);
    assert.deepEqual(await stored(), []);
  });

  test('concurrent writes to one destination are all kept (check-and-set)', async () => {
    const sources = Array.from({ length: 6 }, (_, i) => `svc-${i}`);
    const results = await Promise.all(sources.map((s, i) => meshctlAsync(['intention', i % 2 ? 'deny' : 'allow', s, 'busy'])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const entry = (await stored()).find((e) => e.Name === 'busy') as { Config: { Sources: Array<{ Name: string }> } };
    assert.deepEqual(entry.Config.Sources.map((s) => s.Name).sort(), sources);
  });
});
