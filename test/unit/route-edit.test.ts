import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evenWeights, withoutRoute, withoutSubset, withRoute, withSplit, withSubset } from '../../src/config/route-edit.ts';
import type { StoredRoute, StoredRouter } from '../../src/config/routes.ts';
import { headerMatchOf, queryMatchOf, routeFromFlags, splitOf } from '../../src/cli/route-flags.ts';
import { entriesOfFile, fileProblems } from '../../src/cli/route-apply.ts';
import { subsetFromFlags } from '../../src/cli/subset.ts';
import { explainRequest } from '../../src/control/api/mesh/routes.ts';

const r = (Name: string, extra: Partial<StoredRoute> = {}): StoredRoute => ({ Name, Destination: { Split: [{ Subset: 'v1', Weight: 100 }] }, ...extra });
const names = (c: StoredRouter) => c.Routes.map((x) => x.Name);

describe('route set edits', () => {
  test('a new route goes last, before a catch-all split; a replaced one keeps its place; --position moves it', () => {
    let set = withRoute(undefined, r('a'));
    set = withSplit(set, [{ Subset: 'v1', Weight: 90 }, { Subset: 'v2', Weight: 10 }]);
    set = withRoute(set, r('b'));
    assert.deepEqual(names(set), ['a', 'b', 'split']);
    set = withRoute(set, r('a', { Timeout: '1s' }));
    assert.deepEqual(names(set), ['a', 'b', 'split']);
    assert.equal(set.Routes[0]!.Timeout, '1s');
    assert.deepEqual(names(withRoute(set, r('c'), 0)), ['c', 'a', 'b', 'split']);
    assert.deepEqual(names(withRoute(set, r('a'), 99)), ['b', 'split', 'a']);
    assert.deepEqual(names(withSplit(set, [{ Subset: 'v2', Weight: 100 }])), ['a', 'b', 'split']);
    assert.deepEqual(withSplit(set, [{ Subset: 'v2', Weight: 100 }]).Routes.at(-1), { Name: 'split', Destination: { Split: [{ Subset: 'v2', Weight: 100 }] } });
  });

  test('edits never change what they were given, and drop the server\'s Version', () => {
    const current: StoredRouter = { Version: 4, Routes: [r('a')] };
    const frozen = JSON.stringify(current);
    assert.deepEqual(withRoute(current, r('b')), { Routes: [r('a'), r('b')] });
    assert.deepEqual(withoutRoute(current, 'a'), { config: { Routes: [] }, removed: true });
    assert.deepEqual(withoutRoute(current, 'z'), { config: { Routes: [r('a')] }, removed: false });
    assert.deepEqual(withoutRoute(current), { config: { Routes: [] }, removed: true });
    assert.equal(JSON.stringify(current), frozen);
  });

  test('subsets', () => {
    const set = withSubset(undefined, 'v1', { Filter: { Meta: { version: 'v1' } } });
    assert.deepEqual(withoutSubset(set, 'v1'), { config: { Subsets: {} }, removed: true });
    assert.equal(withoutSubset(set, 'v2').removed, false);
  });

  test('weights left out share what is left of 100, in whole numbers', () => {
    assert.deepEqual(evenWeights([undefined, undefined]), [50, 50]);
    assert.deepEqual(evenWeights([undefined, undefined, undefined]), [34, 33, 33]);
    assert.deepEqual(evenWeights([90, undefined]), [90, 10]);
    assert.deepEqual(evenWeights([80, undefined, undefined]), [80, 10, 10]);
    assert.deepEqual(evenWeights([60, 60]), [60, 60]); // the schema refuses the sum
  });
});

describe('route add flags', () => {
  test('--header and --query forms', () => {
    assert.deepEqual(headerMatchOf('x-a=1'), { Name: 'x-a', Exact: '1' });
    assert.deepEqual(headerMatchOf('x-a^=pre'), { Name: 'x-a', Prefix: 'pre' });
    assert.deepEqual(headerMatchOf('x-a~v[0-9]=x'), { Name: 'x-a', Regex: 'v[0-9]=x' });
    assert.deepEqual(headerMatchOf('x-a'), { Name: 'x-a', Present: true });
    assert.deepEqual(headerMatchOf('!x-a'), { Name: 'x-a', Absent: true });
    assert.deepEqual(headerMatchOf('x-a='), { Name: 'x-a', Exact: '' });
    assert.throws(() => headerMatchOf('=1'), /invalid --header "=1": no header name/);
    assert.deepEqual(queryMatchOf('v=2'), { Name: 'v', Exact: '2' });
    assert.deepEqual(queryMatchOf('id~[a-f]+'), { Name: 'id', Regex: '[a-f]+' });
    assert.deepEqual(queryMatchOf('debug'), { Name: 'debug', Present: true });
  });

  test('--to names a subset of DEST when it has one, else a service; SERVICE:SUBSET another service\'s subset', () => {
    assert.deepEqual(splitOf(['v1=90', 'search', 'other:v2=5'], new Set(['v1'])), [
      { Subset: 'v1', Weight: 90 },
      { Service: 'search', Weight: 5 },
      { Service: 'other', Subset: 'v2', Weight: 5 },
    ]);
  });

  test('every flag lands in its field', () => {
    const route = routeFromFlags(
      {
        name: 'full',
        pathPrefix: '/old',
        method: ['get', 'POST'],
        header: ['x-canary=1'],
        query: ['debug'],
        source: 'web',
        to: ['v1=90', 'v2'],
        timeout: '2s',
        retries: '3',
        perTryTimeout: '500ms',
        setHeader: ['x-s=1'],
        addHeader: ['x-a=2'],
        removeHeader: ['x-r'],
        prefixRewrite: '/new',
        faultDelay: '100ms@10%',
        faultAbort: '503@5',
        mirror: 'shadow:v1@10%',
      },
      new Set(['v1', 'v2']),
    );
    assert.deepEqual(route, {
      Name: 'full',
      Match: { PathPrefix: '/old', Methods: ['GET', 'POST'], Header: [{ Name: 'x-canary', Exact: '1' }], Query: [{ Name: 'debug', Present: true }], Source: 'web' },
      Destination: { Split: [{ Subset: 'v1', Weight: 90 }, { Subset: 'v2', Weight: 10 }] },
      Timeout: '2s',
      Retries: { NumRetries: 3, PerTryTimeout: '500ms' },
      RequestHeaders: { Add: { 'x-a': '2' }, Set: { 'x-s': '1' }, Remove: ['x-r'] },
      PrefixRewrite: '/new',
      Fault: { Delay: { Duration: '100ms', Percent: 10 }, Abort: { Status: 503, Percent: 5 } },
      Mirror: { Service: 'shadow', Subset: 'v1', Percent: 10 },
    });
    assert.deepEqual(routeFromFlags({ name: 'm', pathExact: '/old', redirect: '/new@308' }, new Set()), { Name: 'm', Match: { PathExact: '/old' }, Redirect: { Path: '/new', Status: 308 } });
  });

  test('a bad value names its flag and value', () => {
    const rows: Array<[Parameters<typeof routeFromFlags>[0], RegExp]> = [
      [{ name: 'x', to: ['v1'], pathPrefix: 'api' }, /^invalid route x: --path-prefix "api": must start with "\/", got "api"$/],
      [{ name: 'x', to: ['v1'], method: ['G ET'] }, /--method \["G ET"\]|--method "G ET"/],
      [{ name: 'x', to: ['v1'], header: ['x~('] }, /--header "x~\(": .*not a valid RE2 regex/],
      [{ name: 'x', to: ['v1'], faultDelay: 'soon@10%' }, /--fault-delay "soon@10%": expected a duration above 0/],
      [{ name: 'x', to: ['v1'], faultAbort: '503@150%' }, /--fault-abort "503@150%": expected a percentage from 0 to 100, got 150/],
      [{ name: 'x', to: ['v1'], mirror: 'bad name@1' }, /--mirror "bad name@1": expected a service name/],
      [{ name: 'x', to: ['v1'], setHeader: ['novalue'] }, /invalid --set-header "novalue": expected NAME=VALUE/],
      [{ name: 'x', to: ['v1'], pathExact: '/a', pathPrefix: '/b' }, /give at most one of --path-exact, --path-prefix, --path-regex, got --path-exact, --path-prefix/],
      [{ name: 'bad name', to: ['v1'] }, /--name "bad name": expected a route name/],
    ];
    for (const [flags, pattern] of rows) assert.throws(() => routeFromFlags(flags, new Set(['v1'])), (e: Error & { code?: string }) => e.code === 'MESH_E_USAGE' && pattern.test(e.message), JSON.stringify(flags));
  });

  test('subset flags', () => {
    assert.deepEqual(subsetFromFlags('v2', { meta: ['version=v2'], tag: ['a', 'a'] }), { Filter: { Tags: ['a'], Meta: { version: 'v2' } } });
    assert.throws(() => subsetFromFlags('v2', {}), /invalid subset v2: give at least one of Tags, Meta/);
  });
});

describe('route apply files', () => {
  test('a map by kind or a list of entries; every problem at once', () => {
    const byKind = entriesOfFile({ 'service-router': { api: { Routes: [] } }, 'service-resolver': { api: { Subsets: {} } } }, 'f');
    assert.deepEqual(byKind.map((e) => `${e.Kind} ${e.Name}`), ['service-resolver api', 'service-router api']);
    assert.deepEqual(entriesOfFile([{ Kind: 'service-router', Name: 'a', Config: { Routes: [] } }], 'f'), [{ Kind: 'service-router', Name: 'a', Config: { Routes: [] } }]);
    assert.throws(() => entriesOfFile({ routes: {} }, 'f'), /unknown top-level key\(s\) routes/);
    assert.deepEqual(fileProblems([{ Kind: 'service-router', Name: 'a', Config: { Routes: [{ Name: 'r' }] } }, { Kind: 'x', Name: 'a', Config: {} }]), [
      'service-router a: Routes[0]: route r needs a Destination (or a Redirect)',
      'Kind "x": expected service-router or service-resolver',
    ]);
  });
});

describe('explain requests', () => {
  test('path (with its own query), method, header=k:v, query=k=v and source', () => {
    const req = explainRequest(new URLSearchParams([['path', '/a/../b?x=1'], ['method', 'POST'], ['header', 'X-Canary: 1'], ['query', 'y=2'], ['query', 'flag'], ['source', 'web']]));
    assert.equal(req.path, '/b');
    assert.equal(req.method, 'POST');
    assert.equal(req.header('x-canary'), '1');
    assert.deepEqual([...req.query], [['x', ['1']], ['y', ['2']], ['flag', ['']]]);
    assert.equal(req.source, 'web');
    assert.throws(() => explainRequest(new URLSearchParams({ path: '/%2F' })), /Invalid path/);
  });
});
