// meshctl route, subset and split against a real server with the real CLI:
// the round trip of every command, validation that stores nothing, the
// generic kind routes with their reference checks, versions and history,
// rollback, ACLs, and concurrent edits of one destination.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliFor } from '../helpers/cli.ts';
import { api, removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

let server: ServerProcess;
let dir: string;
before(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'meshctl-routes-'));
  for (const [service, version] of [['api', 'v1'], ['api', 'v2'], ['search', 'v1'], ['shadow', 'v1'], ['web', 'v1'], ['pay', 'v1']] as const) {
    const res = await api(server, 'PUT', '/v1/catalog/register', { Node: `n-${service}-${version}`, Address: '127.0.0.1', Service: { ID: `${service}-${version}`, Service: service, Port: 8080, Meta: { version } } });
    assert.equal(res.status, 200, await res.text());
  }
});
after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
  rmSync(dir, { recursive: true, force: true });
});

const cli = cliFor(() => server);
const meshctl = cli.run;
const meshctlAsync = cli.runAsync;
const ok = cli.ok;
const fails = (args: string[], code: number, pattern: RegExp) => {
  const r = meshctl(args);
  assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
};
const json = async <T>(path: string, method = 'GET', body?: unknown): Promise<T> => {
  const res = await api(server, method, path, body);
  assert.equal(res.status, 200, `${method} ${path}: ${await res.clone().text()}`);
  return (await res.json()) as T;
};
interface RouterEntry {
  Name: string;
  Config: { Version?: number; Routes: Array<{ Name: string; [k: string]: unknown }> };
  ModifyIndex: number;
}
const router = async (dest: string): Promise<RouterEntry | undefined> => {
  const res = await api(server, 'GET', `/v1/mesh/config/service-router/${dest}`);
  return res.status === 404 ? undefined : ((await res.json()) as RouterEntry);
};
const routeNames = async (dest: string) => (await router(dest))?.Config.Routes.map((r) => r.Name) ?? [];
/** The whole mesh config snapshot, as agents receive it: what must not change when a write is refused. */
const snapshot = async () => JSON.stringify((await json<{ Entries: unknown[] }>('/v1/mesh/config')).Entries);

describe('meshctl subset', () => {
  test('set, list and delete; a bad flag is exit 2 naming it; nothing stored', async () => {
    assert.equal(ok(['subset', 'set', 'api', 'v1', '--meta', 'version=v1']), 'subset api:v1: meta version=v1\n');
    ok(['subset', 'set', 'api', 'v2', '--meta', 'version=v2']);
    ok(['subset', 'set', 'api', 'blue', '--tag', 'blue', '--tag', 'prod']);
    const list = ok(['subset', 'list', 'api']);
    assert.match(list, /^SERVICE +SUBSET +FILTER$/m);
    assert.match(list, /^api +v2 +meta version=v2$/m);
    assert.match(list, /^api +blue +tag blue, tag prod$/m);
    const before = await snapshot();
    fails(['subset', 'set', 'api', 'v3'], 2, /invalid subset v3: give at least one of Tags, Meta/);
    fails(['subset', 'set', 'api', 'v3', '--meta', 'version'], 2, /invalid --meta "version": expected KEY=VALUE/);
    fails(['subset', 'set', 'api', 'bad name', '--meta', 'a=b'], 2, /NAME "bad name": expected a subset name/);
    assert.equal(await snapshot(), before);
    assert.equal(ok(['subset', 'delete', 'api', 'blue']), 'deleted subset api:blue\n');
    assert.equal(ok(['subset', 'delete', 'api', 'blue']), 'no subset api:blue; nothing to delete\n');
  });
});

describe('meshctl route', () => {
  test('add, list, get and delete; --to picks a subset of DEST, else a service; a name that exists is replaced in place', async () => {
    assert.match(ok(['route', 'add', 'api', '--name', 'canary', '--header', 'x-canary=1', '--to', 'v2']), /^added route canary of api at #1 \(version \d+\): header x-canary=1 → api:v2$/m);
    ok(['route', 'add', 'api', '--name', 'search', '--path-prefix', '/search', '--to', 'search', '--timeout', '2s', '--retries', '3', '--set-header', 'x-from=mesh']);
    ok(['route', 'add', 'api', '--name', 'chaos', '--source', 'web', '--fault-abort', '503@5%', '--fault-delay', '100ms@10%', '--mirror', 'shadow@10%', '--to', 'v1=90', '--to', 'v2']);
    assert.deepEqual(await routeNames('api'), ['canary', 'search', 'chaos']);
    const entry = (await router('api'))!;
    assert.deepEqual(entry.Config.Routes[1], { Name: 'search', Match: { PathPrefix: '/search' }, Destination: { Split: [{ Service: 'search', Weight: 100 }] }, Timeout: '2s', Retries: { NumRetries: 3 }, RequestHeaders: { Set: { 'x-from': 'mesh' } } });
    assert.deepEqual(entry.Config.Routes[2]!.Destination, { Split: [{ Subset: 'v1', Weight: 90 }, { Subset: 'v2', Weight: 10 }] });

    const get = ok(['route', 'get', 'api']);
    assert.match(get, /^api: version \d+, first match wins/);
    assert.match(get, /^1 +canary +header x-canary=1 +api:v2 +-$/m);
    assert.match(get, /^2 +search +path-prefix \/search +search +timeout 2s, retries 3, set x-from=mesh$/m);
    assert.match(get, /^3 +chaos +source web +api:v1=90 api:v2=10 +fault delay 100ms@10%, fault abort 503@5%, mirror shadow@10%$/m);
    assert.match(ok(['route', 'list']), /^api +\d+ +1 +canary /m);
    assert.equal((JSON.parse(ok(['route', 'get', 'api', '--json'])) as RouterEntry).Config.Routes.length, 3);

    assert.match(ok(['route', 'add', 'api', '--name', 'canary', '--header', 'x-canary~[12]', '--to', 'v1']), /^replaced route canary of api at #1 /);
    assert.deepEqual(await routeNames('api'), ['canary', 'search', 'chaos']);
    ok(['route', 'add', 'api', '--name', 'first', '--path-exact', '/health', '--to', 'v1', '--position', '1']);
    assert.deepEqual(await routeNames('api'), ['first', 'canary', 'search', 'chaos']);

    assert.equal(ok(['route', 'delete', 'api', '--name', 'first']), 'deleted route first of api\n');
    assert.equal(ok(['route', 'delete', 'api', '--name', 'first']), 'no route first of api; nothing to delete\n');
    assert.deepEqual(await routeNames('api'), ['canary', 'search', 'chaos']);
  });

  test('bad flags: exit 2, one line naming the flag and the value; nothing stored', async () => {
    const before = await snapshot();
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--timeout', '2 seconds'], 2, /invalid route x: --timeout "2 seconds": expected a duration above 0/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1=90', '--to', 'v2=20'], 2, /--to "v1=90" "v2=20": weights must add up to 100, got 110/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--path-regex', '('], 2, /--path-regex "\(": not a valid RE2 regex/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--prefix-rewrite', '/new'], 2, /--prefix-rewrite "\/new": .* needs Match.PathPrefix/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--redirect', '/y'], 2, /give --to or --redirect, not both/);
    fails(['route', 'add', 'api', '--name', 'x'], 2, /route x sends nowhere: missing --to/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--fault-abort', '503'], 2, /invalid --fault-abort "503": expected STATUS@PERCENT/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--retries', 'many'], 2, /--retries "many": expected a whole number/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--redirect', '/y@200'], 2, /--to or --redirect/);
    fails(['route', 'add', 'api', '--name', 'x', '--redirect', '/y@200'], 2, /--redirect "\/y@200": expected one of 301, 302, 307, 308, got 200/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--position', '0'], 2, /invalid --position "0"/);
    fails(['route', 'add', 'bad_name', '--name', 'x', '--to', 'v1'], 2, /invalid service "bad_name"/);
    fails(['split', 'api', 'v1=50', 'v2=10'], 2, /invalid split v1=50 v2=10: weights must add up to 100, got 60/);
    assert.equal(await snapshot(), before);
  });

  test('unknown subsets or services: exit 1 with the server\'s reason; nothing stored', async () => {
    const before = await snapshot();
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'nosuch'], 1, /the server answered 400: .*route x: Routes\[\d\]\.Destination\.Split\[0\]\.Service: service "nosuch" is not in the catalog/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'search:v9'], 1, /route x: Routes\[\d\]\.Destination\.Split\[0\]\.Subset: subset "v9" is not defined for service search/);
    fails(['route', 'add', 'api', '--name', 'x', '--to', 'v1', '--mirror', 'ghost@5'], 1, /Mirror\.Service: service "ghost" is not in the catalog/);
    fails(['split', 'api', 'v1=90', 'v7=10'], 1, /service "v7" is not in the catalog/);
    fails(['subset', 'delete', 'api', 'v2'], 1, /subset "v2" of api is used by route canary of api|subset "v2" of api is used by route chaos of api/);
    const direct = await api(server, 'PUT', '/v1/mesh/config/service-router/api', { Routes: [{ Name: 'r', Destination: { Split: [{ Subset: 'nope', Weight: 100 }] } }] });
    assert.equal(direct.status, 400);
    assert.match(await direct.text(), /Invalid service-router "api": route r: Routes\[0\]\.Destination\.Split\[0\]\.Subset: subset "nope" is not defined for service api/);
    assert.equal(await snapshot(), before);
  });

  test('explain says which rule matches, why each before it did not, and where the request goes', () => {
    const out = ok(['route', 'explain', 'api', '--path', '/search/x', '--header', 'x-canary=3']);
    assert.equal(
      out,
      [
        '  #1 canary: no match: wants header x-canary regex [12], got header x-canary "3"',
        '  #2 search: matches (path-prefix /search)',
        'GET /search/x → search: route search (#2, version ' + /version (\d+)\)/.exec(out)![1] + ')',
        '',
      ].join('\n'),
    );
    assert.match(ok(['route', 'explain', 'api', '--path', '/x', '--header', 'x-canary=2']), /^GET \/x → api:v1: route canary \(#1, /m);
    assert.match(ok(['route', 'explain', 'api', '--path', '/x', '--source', 'web']), /^GET \/x → api:v1 90%, api:v2 10%: route chaos \(#3, /m);
    assert.match(ok(['route', 'explain', 'api', '--path', '/x']), /no rule matches: the request goes to every instance of api\nGET \/x → api: no route\n$/);
    assert.match(ok(['route', 'explain', 'pay', '--path', '/x']), /pay has no routes/);
    assert.equal((JSON.parse(ok(['route', 'explain', 'api', '--path', '/x?debug=1', '--json'])) as { Path: string }).Path, '/x');
  });

  test('split sets (or replaces) a catch-all route named split at the end', async () => {
    ok(['subset', 'set', 'search', 'v1', '--meta', 'version=v1']);
    assert.equal(ok(['split', 'search', 'v1=100']), 'split search: search:v1=100\n');
    assert.equal(ok(['split', 'api', 'v1=90', 'v2=10']), 'split api: api:v1=90 api:v2=10\n');
    assert.equal(ok(['split', 'api', 'v1=50', 'v2=50']), 'split api: api:v1=50 api:v2=50\n');
    assert.deepEqual(await routeNames('api'), ['canary', 'search', 'chaos', 'split']);
    assert.deepEqual((await router('api'))!.Config.Routes.at(-1), { Name: 'split', Destination: { Split: [{ Subset: 'v1', Weight: 50 }, { Subset: 'v2', Weight: 50 }] } });
  });
});

describe('versions, history and rollback', () => {
  test('every stored set is a new version; history lists them; rollback restores exactly an earlier set as a new version', async () => {
    ok(['subset', 'set', 'web', 'v1', '--meta', 'version=v1']);
    ok(['route', 'add', 'web', '--name', 'a', '--path-prefix', '/a', '--to', 'v1']);
    const v1 = (await router('web'))!.Config;
    ok(['route', 'add', 'web', '--name', 'b', '--path-prefix', '/b', '--to', 'api']);
    const v2 = (await router('web'))!.Config;
    assert.equal(v2.Version, (v1.Version ?? 0) + 1);
    ok(['split', 'web', 'v1=100']);
    const v3 = (await router('web'))!.Config;
    assert.equal(v3.Version, (v2.Version ?? 0) + 1);
    assert.deepEqual(v3.Routes.map((r) => r.Name), ['a', 'b', 'split']);
    ok(['route', 'add', 'web', '--name', 'c', '--path-prefix', '/c', '--to', 'v1']);
    assert.deepEqual(await routeNames('web'), ['a', 'b', 'c', 'split'], 'a new route goes before the catch-all split');

    const history = ok(['route', 'history', 'web']);
    assert.match(history, /^VERSION +TIME +CAUSE +ROUTES +SUMMARY$/m);
    assert.match(history, new RegExp(`^${v1.Version} +\\S+ +put +a +a: path-prefix /a → web:v1$`, 'm'));
    assert.match(history, new RegExp(`^${(v3.Version ?? 0) + 1} \\* +\\S+ +put +a,b,c,split +`, 'm'));

    assert.match(ok(['route', 'rollback', 'web', '--to', String(v2.Version)]), new RegExp(`^rolled web back to version ${v2.Version}, stored as version ${(v3.Version ?? 0) + 2}: routes a, b\\n$`));
    const now = (await router('web'))!.Config;
    assert.deepEqual(now.Routes, v2.Routes);
    assert.equal(now.Version, (v3.Version ?? 0) + 2);
    const records = await json<Array<{ Version: number; Cause: string; Current: boolean }>>('/v1/mesh/routes/web/history');
    assert.deepEqual(records.at(-1), { ...records.at(-1)!, Version: now.Version, Cause: `rollback to ${v2.Version}`, Current: true });

    // History is kept outside mesh/config/: agents do not receive it.
    const kinds = new Set((await json<{ Entries: Array<{ Kind: string }> }>('/v1/mesh/config')).Entries.map((e) => e.Kind));
    assert.deepEqual([...kinds].sort(), ['service-resolver', 'service-router']);

    // Deleting is a version too, and can be rolled back.
    assert.equal(ok(['route', 'delete', 'web']), 'deleted every route of web\n');
    assert.equal(await router('web'), undefined);
    ok(['route', 'rollback', 'web', '--to', String(now.Version)]);
    assert.deepEqual((await router('web'))!.Config.Routes, v2.Routes);
    fails(['route', 'rollback', 'web', '--to', '999'], 1, /web has no route version 999/);
    fails(['route', 'rollback', 'web', '--to', 'last'], 2, /invalid --to "last"/);
  });
});

describe('route apply', () => {
  test('several destinations and their subsets from one YAML file, all or nothing', async () => {
    const file = join(dir, 'routes.yaml');
    writeFileSync(
      file,
      `service-resolver:
  pay:
    Subsets:
      v1: { Filter: { Meta: { version: v1 } } }
      v2: { Filter: { Meta: { version: v2 } } }
service-router:
  pay:
    Routes:
      - Name: canary
        Match: { Header: [{ Name: x-canary, Present: true }] }
        Destination: { Split: [{ Subset: v2, Weight: 100 }] }
      - Name: split
        Destination: { Split: [{ Subset: v1, Weight: 90 }, { Subset: v2, Weight: 10 }] }
  shadow:
    Routes:
      - Name: moved
        Match: { PathExact: /old }
        Redirect: { Path: /new, Status: 301 }
`,
    );
    const out = ok(['route', 'apply', '-f', file]);
    assert.match(out, /^stored service-resolver pay$/m);
    assert.match(out, /^stored service-router pay \(version \d+\)$/m);
    assert.match(out, /^stored service-router shadow \(version \d+\)$/m);
    assert.deepEqual(await routeNames('pay'), ['canary', 'split']);
    assert.deepEqual(await routeNames('shadow'), ['moved']);

    const before = await snapshot();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ Kind: 'service-router', Name: 'pay', Config: { Routes: [{ Name: 'r', Destination: { Split: [{ Subset: 'v1', Weight: 50 }] } }] } }, { Kind: 'service-router', Name: 'shadow', Config: { Routes: [{ Name: 'r', Timeout: 'x', Redirect: {} }] } }]));
    fails(['route', 'apply', '-f', bad], 2, /invalid -f .*bad\.json: service-router pay: Routes\[0\]\.Destination\.Split: weights must add up to 100, got 50 \(50\); service-router shadow: Routes\[0\]\.Timeout: .*/);
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ 'service-router': { pay: { Routes: [{ Name: 'r', Destination: { Split: [{ Subset: 'v3', Weight: 100 }] } }] }, shadow: { Routes: [] } } }));
    fails(['route', 'apply', '-f', unknown], 1, /apply, nothing was stored: service-router "pay": route r: .*subset "v3" is not defined for service pay/);
    assert.equal(await snapshot(), before);
  });
});

describe('the generic kind routes', () => {
  test('PUT numbers the version itself, keeps history, and honours cas; config get and set -f reach the same entries', async () => {
    const before = (await router('shadow'))!;
    const body = { Version: 1, Routes: [{ Name: 'moved', Match: { PathExact: '/old' }, Redirect: { Path: '/newer' } }] };
    const stale = await api(server, 'PUT', `/v1/mesh/config/service-router/shadow?cas=${before.ModifyIndex - 1}`, body);
    assert.equal(stale.status, 409);
    const put = await json<RouterEntry>(`/v1/mesh/config/service-router/shadow?cas=${before.ModifyIndex}`, 'PUT', body);
    assert.equal(put.Config.Version, (before.Config.Version ?? 0) + 1, 'the Version given is the server\'s to set');
    const history = await json<Array<{ Version: number; Cause: string; Summary: string }>>('/v1/mesh/routes/shadow/history');
    assert.deepEqual(history.at(-1), { ...history.at(-1)!, Version: put.Config.Version, Cause: 'put', Summary: 'moved: path-exact /old → redirect 302 /newer' });
    assert.match(ok(['config', 'get', 'service-router', 'shadow', '--json']), /"\/newer"/);
    const file = join(dir, 'shadow.json');
    writeFileSync(file, JSON.stringify({ Routes: [{ Name: 'all', Destination: { Split: [{ Weight: 100 }] } }] }));
    ok(['config', 'set', 'service-router', 'shadow', '-f', file]);
    assert.deepEqual(await routeNames('shadow'), ['all']);
    assert.equal((await router('shadow'))!.Config.Version, (put.Config.Version ?? 0) + 1);
  });
});

describe('concurrency and ACLs', () => {
  test('concurrent adds to one destination are all kept, each a version', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `r${i}`);
    const start = (await router('search'))?.Config.Version ?? 0;
    const results = await Promise.all(names.map((n) => meshctlAsync(['route', 'add', 'search', '--name', n, '--path-prefix', `/${n}`, '--to', 'search'])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const got = await routeNames('search');
    for (const n of names) assert.ok(got.includes(n), `${n} kept: ${got.join(',')}`);
    assert.equal(got.at(-1), 'split');
    assert.equal((await router('search'))!.Config.Version, start + names.length);
  });

  test('writes need operator:write; a read-only token reads; anonymous callers get nothing', async () => {
    const made = await api(server, 'PUT', '/v1/acl/token', { Policies: [{ Name: 'global-read-only' }] });
    assert.equal(made.status, 200);
    const reader = ((await made.json()) as { SecretID: string }).SecretID;
    const before = await snapshot();
    for (const token of ['', reader]) {
      const r = meshctl(['route', 'add', 'api', '--name', 'acl', '--to', 'v1'], token);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the server refused the token/);
      assert.equal(meshctl(['subset', 'set', 'api', 'acl', '--meta', 'a=b'], token).code, 1);
      assert.equal((await api({ url: server.url, token }, 'POST', '/v1/mesh/routes/api/rollback?to=1')).status, 403);
      assert.equal((await api({ url: server.url, token }, 'POST', '/v1/mesh/routes/apply', { Entries: [] })).status, 403);
    }
    assert.equal(meshctl(['route', 'get', 'api'], reader).code, 0);
    assert.equal(meshctl(['route', 'history', 'api'], reader).code, 0);
    assert.equal(meshctl(['route', 'explain', 'api', '--path', '/'], reader).code, 0);
    assert.equal((await api({ url: server.url, token: '' }, 'GET', '/v1/mesh/routes/api/history')).status, 403);
    assert.equal(await snapshot(), before);
  });
});
