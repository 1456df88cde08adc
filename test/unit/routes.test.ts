import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkResolver, checkRouter, describeRoute, referencesOf, type StoredRoute } from '../../src/config/routes.ts';
import { compileRoutes, explainRoute, pickTarget, type RouteRequest } from '../../src/config/route-table.ts';
import { describeFieldErrors } from '../../src/config/kind.ts';
import { seededRandom as seeded } from '../helpers/seeded-random.ts';

const request = (path: string, opts: { method?: string; headers?: Record<string, string>; query?: Record<string, string[]>; source?: string } = {}): RouteRequest => ({
  path,
  method: opts.method ?? 'GET',
  header: (name) => opts.headers?.[name],
  query: new Map(Object.entries(opts.query ?? {})),
  source: opts.source ?? 'web',
});

const to = (Subset: string) => ({ Split: [{ Subset, Weight: 100 }] });

const tableOf = (routes: StoredRoute[], resolvers: { Name: string; Config: unknown }[] = []) => compileRoutes([{ Name: 'api', Config: { Version: 3, Routes: routes } }], resolvers);


describe('route matching', () => {
  test('each kind of condition matches what it says and nothing else', () => {
    const cases: Array<[string, StoredRoute['Match'], RouteRequest, boolean]> = [
      ['path exact', { PathExact: '/a' }, request('/a'), true],
      ['path exact, longer path', { PathExact: '/a' }, request('/a/b'), false],
      ['path prefix', { PathPrefix: '/api/' }, request('/api/users'), true],
      ['path prefix, other path', { PathPrefix: '/api/' }, request('/web/users'), false],
      ['path regex, whole path', { PathRegex: '/users/[0-9]+' }, request('/users/42'), true],
      ['path regex does not match a part', { PathRegex: '/users/[0-9]+' }, request('/users/42/x'), false],
      ['method', { Methods: ['POST', 'PUT'] }, request('/', { method: 'PUT' }), true],
      ['method, other', { Methods: ['POST'] }, request('/', { method: 'GET' }), false],
      ['header exact', { Header: [{ Name: 'X-Canary', Exact: '1' }] }, request('/', { headers: { 'x-canary': '1' } }), true],
      ['header exact, other value', { Header: [{ Name: 'x-canary', Exact: '1' }] }, request('/', { headers: { 'x-canary': '0' } }), false],
      ['header exact, absent', { Header: [{ Name: 'x-canary', Exact: '1' }] }, request('/'), false],
      ['header prefix', { Header: [{ Name: 'user-agent', Prefix: 'curl/' }] }, request('/', { headers: { 'user-agent': 'curl/8' } }), true],
      ['header regex', { Header: [{ Name: 'x-user', Regex: 'u[0-9]{2}' }] }, request('/', { headers: { 'x-user': 'u07' } }), true],
      ['header regex, whole value', { Header: [{ Name: 'x-user', Regex: 'u[0-9]{2}' }] }, request('/', { headers: { 'x-user': 'u070' } }), false],
      ['header present', { Header: [{ Name: 'x-debug', Present: true }] }, request('/', { headers: { 'x-debug': '' } }), true],
      ['header present, absent', { Header: [{ Name: 'x-debug', Present: true }] }, request('/'), false],
      ['header absent', { Header: [{ Name: 'x-debug', Absent: true }] }, request('/'), true],
      ['header absent, present', { Header: [{ Name: 'x-debug', Absent: true }] }, request('/', { headers: { 'x-debug': '1' } }), false],
      ['query exact, any value', { Query: [{ Name: 'v', Exact: '2' }] }, request('/', { query: { v: ['1', '2'] } }), true],
      ['query exact, absent', { Query: [{ Name: 'v', Exact: '2' }] }, request('/'), false],
      ['query regex', { Query: [{ Name: 'id', Regex: '[a-f]+' }] }, request('/', { query: { id: ['beef'] } }), true],
      ['query regex, other', { Query: [{ Name: 'id', Regex: '[a-f]+' }] }, request('/', { query: { id: ['xyz'] } }), false],
      ['query present', { Query: [{ Name: 'debug', Present: true }] }, request('/', { query: { debug: [''] } }), true],
      ['source', { Source: 'web' }, request('/', { source: 'web' }), true],
      ['source, other caller', { Source: 'web' }, request('/', { source: 'cron' }), false],
      ['all conditions must hold', { PathPrefix: '/api', Methods: ['GET'] }, request('/api', { method: 'POST' }), false],
      ['no match conditions: everything', {}, request('/anything'), true],
    ];
    for (const [name, Match, req, expected] of cases) {
      const got = tableOf([{ Name: 'r', Match, Destination: to('v2') }]).match('api', req);
      assert.equal(got !== undefined, expected, name);
    }
  });

  test('the first matching rule wins, in order', () => {
    const table = tableOf([
      { Name: 'canary', Match: { Header: [{ Name: 'x-canary', Exact: '1' }] }, Destination: to('v2') },
      { Name: 'api', Match: { PathPrefix: '/api' }, Destination: to('v1') },
      { Name: 'rest', Destination: to('v1') },
    ]);
    assert.deepEqual([table.match('api', request('/api/x', { headers: { 'x-canary': '1' } }))].map((m) => [m?.route.name, m?.index]), [['canary', 0]]);
    assert.deepEqual([table.match('api', request('/api/x'))].map((m) => [m?.route.name, m?.index]), [['api', 1]]);
    assert.equal(table.match('api', request('/other'))?.route.name, 'rest');
    assert.equal(table.version('api'), 3);
  });

  test('no route set, or no rule matching: undefined, the caller sends to the whole service', () => {
    const table = tableOf([{ Name: 'only', Match: { PathExact: '/x' }, Destination: to('v2') }]);
    assert.equal(table.match('api', request('/y')), undefined);
    assert.equal(table.match('db', request('/x')), undefined);
    assert.equal(table.version('db'), undefined);
    assert.deepEqual(table.destinations(), ['api']);
  });

  test('a route compiles to what the proxy applies', () => {
    const table = tableOf([
      {
        Name: 'full',
        Match: { PathPrefix: '/old' },
        Destination: { Split: [{ Subset: 'v1', Weight: 90 }, { Service: 'api-next', Weight: 10 }] },
        Timeout: '2s',
        Retries: { NumRetries: 3, PerTryTimeout: '500ms', RetryOn: ['5xx'] },
        RequestHeaders: { Add: { 'X-Added': 'a' }, Set: { 'X-Set': 's' }, Remove: ['X-Gone'] },
        PrefixRewrite: '/new',
        Fault: { Delay: { Duration: '100ms', Percent: 10 }, Abort: { Status: 503, Percent: 5 } },
        Mirror: { Service: 'shadow', Percent: 10 },
      },
      { Name: 'moved', Match: { PathExact: '/gone' }, Redirect: { Path: '/here', Status: 301 } },
    ]);
    const { route } = table.match('api', request('/old/x'))!;
    assert.deepEqual({ ...route }, {
      name: 'full',
      targets: [{ service: 'api', subset: 'v1', weight: 90 }, { service: 'api-next', weight: 10 }],
      timeoutMs: 2000,
      retries: { numRetries: 3, perTryTimeoutMs: 500, retryOn: ['5xx'] },
      headers: { add: { 'x-added': 'a' }, set: { 'x-set': 's' }, remove: ['x-gone'] },
      prefixRewrite: { from: '/old', to: '/new' },
      fault: { delay: { ms: 100, percent: 10 }, abort: { status: 503, percent: 5 } },
      mirror: { service: 'shadow', percent: 10 },
      matchText: 'path-prefix /old',
    });
    assert.ok(Object.isFrozen(route) && Object.isFrozen(route.targets));
    const moved = table.match('api', request('/gone'))!.route;
    assert.deepEqual([moved.targets, moved.redirect], [[], { path: '/here', status: 301 }]);
    assert.equal(tableOf([{ Name: 'm', Redirect: {} }]).match('api', request('/'))!.route.redirect?.status, 302);
  });
});

describe('weighted splits', () => {
  test('a 90/10 split over 10,000 seeded picks lands within ±1%', () => {
    const table = tableOf([{ Name: 'canary', Destination: { Split: [{ Subset: 'v1', Weight: 90 }, { Subset: 'v2', Weight: 10 }] } }]);
    const route = table.match('api', request('/'))!.route;
    const random = seeded(7);
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const t = pickTarget(route, random)!;
      counts.set(t.subset!, (counts.get(t.subset!) ?? 0) + 1);
    }
    assert.ok(Math.abs((counts.get('v1') ?? 0) - 9000) <= 100, `v1 got ${counts.get('v1')}`);
    assert.ok(Math.abs((counts.get('v2') ?? 0) - 1000) <= 100, `v2 got ${counts.get('v2')}`);
  });

  test('the edges of random land on the right targets; weight 0 is never picked; a redirect picks nothing', () => {
    const table = tableOf([
      { Name: 's', Destination: { Split: [{ Subset: 'a', Weight: 0 }, { Subset: 'b', Weight: 50 }, { Subset: 'c', Weight: 50 }] } },
    ]);
    const route = table.match('api', request('/'))!.route;
    assert.equal(pickTarget(route, () => 0)?.subset, 'b');
    assert.equal(pickTarget(route, () => 0.4999)?.subset, 'b');
    assert.equal(pickTarget(route, () => 0.5)?.subset, 'c');
    assert.equal(pickTarget(route, () => 0.9999999999)?.subset, 'c');
    assert.equal(pickTarget(tableOf([{ Name: 'r', Redirect: { Path: '/x' } }]).match('api', request('/'))!.route, () => 0.3), undefined);
  });
});

describe('subsets', () => {
  const table = compileRoutes([], [{ Name: 'api', Config: { Subsets: { v2: { Filter: { Meta: { version: 'v2' } } }, blue: { Filter: { Tags: ['blue', 'prod'] } } } } }]);
  test('an instance is in a subset when it has every tag and every meta value', () => {
    const v2 = table.subsetFilter('api', 'v2')!;
    assert.equal(v2({ tags: [], meta: { version: 'v2' } }), true);
    assert.equal(v2({ tags: [], meta: { version: 'v1' } }), false);
    assert.equal(v2({ tags: ['version=v2'], meta: {} }), false);
    const blue = table.subsetFilter('api', 'blue')!;
    assert.equal(blue({ tags: ['prod', 'blue', 'x'], meta: {} }), true);
    assert.equal(blue({ tags: ['blue'], meta: {} }), false);
  });
  test('an unknown subset or service: undefined', () => {
    assert.equal(table.subsetFilter('api', 'v3'), undefined);
    assert.equal(table.subsetFilter('db', 'v2'), undefined);
  });
});

describe('explain', () => {
  const table = tableOf([
    { Name: 'canary', Match: { PathPrefix: '/api', Header: [{ Name: 'x-canary', Exact: '1' }] }, Destination: to('v2') },
    { Name: 'posts', Match: { Methods: ['POST'] }, Destination: to('v1') },
    { Name: 'moved', Match: { PathExact: '/old' }, Redirect: { Path: '/new', Status: 308 } },
  ]);

  test('a line per rule tried, saying what it wanted and what the request had', () => {
    const got = explainRoute(table, 'api', request('/api/x', { method: 'POST' }));
    assert.deepEqual(got, {
      rule: 'posts',
      index: 1,
      targets: [{ service: 'api', subset: 'v1', weight: 100 }],
      why: ['#1 canary: no match: wants header x-canary=1, got header x-canary absent', '#2 posts: matches (methods POST)'],
    });
    assert.deepEqual(explainRoute(table, 'api', request('/old')).redirect, { path: '/new', status: 308 });
  });

  test('no rule matching, or no routes: the whole destination, said so', () => {
    const got = explainRoute(table, 'api', request('/x'));
    assert.equal(got.rule, undefined);
    assert.equal(got.index, -1);
    assert.deepEqual(got.targets, [{ service: 'api', weight: 100 }]);
    assert.equal(got.why.at(-1), 'no rule matches: the request goes to every instance of api');
    assert.equal(got.why.length, 4);
    assert.deepEqual(explainRoute(table, 'db', request('/x')).why, ['db has no routes: the request goes to every instance of db']);
  });
});

describe('route schemas', () => {
  const errorsOf = (input: unknown) => {
    const checked = checkRouter(input);
    assert.equal(checked.ok, false, 'expected errors');
    return checked.ok ? '' : describeFieldErrors(checked.errors);
  };
  const routeWith = (extra: object) => ({ Routes: [{ Name: 'r', Destination: to('v2'), ...extra }] });

  test('bad input names the field and the value', () => {
    const rows: Array<[unknown, string]> = [
      [{ Routes: [{ Name: 'r', Destination: { Split: [{ Subset: 'a', Weight: 90 }, { Subset: 'b', Weight: 20 }] } }] }, 'Routes[0].Destination.Split: weights must add up to 100, got 110 (90 + 20)'],
      [{ Routes: [{ Name: 'r', Destination: { Split: [{ Subset: 'a', Weight: 101 }] } }] }, 'Routes[0].Destination.Split[0].Weight: expected a percentage from 0 to 100, got 101'],
      [routeWith({ Match: { PathPrefix: 'api' } }), 'Routes[0].Match.PathPrefix: must start with "/", got "api"'],
      [routeWith({ Match: { PathRegex: '(' } }), 'Routes[0].Match.PathRegex: not a valid RE2 regex "("'],
      [routeWith({ Match: { PathExact: '/a', PathPrefix: '/b' } }), 'Routes[0].Match: give at most one of PathExact, PathPrefix, PathRegex, got PathExact, PathPrefix'],
      [routeWith({ Match: { Methods: ['get'] } }), 'Routes[0].Match.Methods[0]: expected an HTTP method in capitals, such as GET, got "get"'],
      [routeWith({ Match: { Header: [{ Name: 'x', Exact: '1', Absent: true }] } }), 'Routes[0].Match.Header[0]: give exactly one of Exact, Prefix, Regex, Present, Absent for header x, got Exact, Absent'],
      [routeWith({ Match: { Query: [{ Name: 'q' }] } }), 'Routes[0].Match.Query[0]: give exactly one of Exact, Regex, Present for query parameter q'],
      [routeWith({ Timeout: '2 seconds' }), 'Routes[0].Timeout: expected a duration above 0, such as 5s or 250ms, got "2 seconds"'],
      [routeWith({ Retries: { NumRetries: 50 } }), 'Routes[0].Retries.NumRetries: expected at most 10 retries, got 50'],
      [routeWith({ Retries: { RetryOn: ['sometimes'] } }), 'Routes[0].Retries.RetryOn[0]: expected one of'],
      [routeWith({ PrefixRewrite: '/new' }), 'Routes[0].PrefixRewrite: rewrites the prefix Match.PathPrefix matched, so route r needs Match.PathPrefix'],
      [routeWith({ Redirect: { Path: '/x' } }), 'Routes[0].Destination: route r redirects, so it sends nowhere: leave Destination out or drop the Redirect'],
      [{ Routes: [{ Name: 'r', Redirect: { Status: 200 } }] }, 'Routes[0].Redirect.Status: expected one of 301, 302, 307, 308, got 200'],
      [{ Routes: [{ Name: 'r' }] }, 'Routes[0]: route r needs a Destination (or a Redirect)'],
      [routeWith({ Fault: { Abort: { Status: 50, Percent: 5 } } }), 'Routes[0].Fault.Abort.Status: expected a whole number from 200 to 599, got 50'],
      [routeWith({ Fault: { Delay: { Duration: '1s', Percent: 150 } } }), 'Routes[0].Fault.Delay.Percent: expected a percentage from 0 to 100, got 150'],
      [routeWith({ Mirror: { Service: 'bad name', Percent: 5 } }), 'Routes[0].Mirror.Service: expected a service name (letters, digits and dashes), got "bad name"'],
      [routeWith({ RequestHeaders: { Set: { 'x-a': '1' }, Remove: ['X-A'] } }), 'Routes[0].RequestHeaders.Remove[0]: header X-A is both set and removed; give one'],
      [routeWith({ Retry: { NumRetries: 1 } }), 'Routes[0].Retry: unknown key, did you mean Retries?'],
      [{ Routes: [{ Name: 'a', Destination: to('v1') }, { Name: 'a', Destination: to('v2') }] }, 'Routes[1].Name: route a appears twice'],
      [{ Routes: [{ Name: 'r', Destination: { Split: [{ Subset: 'a', Weight: 50 }, { Subset: 'a', Weight: 50 }] } }] }, 'Routes[0].Destination.Split[1]: target (destination):a appears twice'],
      [{ Routes: [{ Name: 'has space', Destination: to('v1') }] }, 'Routes[0].Name: expected a route name'],
    ];
    for (const [input, expected] of rows) assert.ok(errorsOf(input).includes(expected), `${JSON.stringify(input)}\n  got:  ${errorsOf(input)}\n  want: ${expected}`);
  });

  test('every problem is reported at once', () => {
    const checked = checkRouter({ Routes: [{ Name: 'r', Timeout: 'x', Destination: { Split: [{ Weight: 10 }] } }] });
    assert.ok(!checked.ok);
    assert.deepEqual(checked.errors.map((e) => e.path).sort(), ['Routes[0].Destination.Split', 'Routes[0].Timeout']);
  });

  test('resolver: a subset needs a filter; names and values are checked', () => {
    const bad = (input: unknown) => {
      const checked = checkResolver(input);
      return checked.ok ? '' : describeFieldErrors(checked.errors);
    };
    assert.match(bad({ Subsets: { v1: { Filter: {} } } }), /Subsets\.v1\.Filter: give at least one of Tags, Meta/);
    assert.match(bad({ Subsets: { 'v 1': { Filter: { Tags: ['a'] } } } }), /expected a subset name/);
    assert.match(bad({ Subsets: { v1: { Filter: { Meta: { version: 2 } } } } }), /Subsets\.v1\.Filter\.Meta\.version: expected a meta value, got 2/);
    assert.equal(checkResolver({ Subsets: { v1: { Filter: { Meta: { version: 'v1' } } } } }).ok, true);
  });

  test('compileRoutes refuses an invalid entry, or leaves it out and says so', () => {
    assert.throws(() => compileRoutes([{ Name: 'api', Config: { Routes: [{ Name: 'r' }] } }], []), /service-router api: Routes\[0\]: route r needs a Destination/);
    const skipped: string[] = [];
    const table = compileRoutes([{ Name: 'api', Config: { Routes: 'no' } }, { Name: 'db', Config: { Routes: [] } }], [{ Name: 'api', Config: {} }], { onInvalid: (kind, name) => skipped.push(`${kind} ${name}`) });
    assert.deepEqual(skipped, ['service-router api', 'service-resolver api']);
    assert.deepEqual(table.destinations(), ['db']);
  });

  test('referencesOf lists every service and subset named, with its field', () => {
    const checked = checkRouter({
      Routes: [{ Name: 'a', Destination: { Split: [{ Subset: 'v1', Weight: 50 }, { Service: 'other', Weight: 50 }] }, Mirror: { Service: 'shadow', Subset: 's', Percent: 1 } }],
    });
    assert.ok(checked.ok);
    assert.deepEqual(referencesOf('api', checked.value), [
      { route: 'a', path: 'Routes[0].Destination.Split[0].Subset', service: 'api', subset: 'v1' },
      { route: 'a', path: 'Routes[0].Destination.Split[1].Service', service: 'other' },
      { route: 'a', path: 'Routes[0].Mirror.Subset', service: 'shadow', subset: 's' },
    ]);
    assert.equal(describeRoute(checked.value.Routes[0]!, 'api'), 'a: everything → api:v1=50 other=50');
  });
});

describe('what a route may not do to the request', () => {
  const withHeaders = (RequestHeaders: unknown) => checkRouter({ Routes: [{ Name: 'r', RequestHeaders, Destination: { Split: [{ Weight: 100 }] } }] });
  const refused: Array<[string, unknown, RegExp]> = [
    ['set Content-Length (smuggling a second request onto the hop)', { Set: { 'Content-Length': '3' } }, /frames the request or the connection/],
    ['add Transfer-Encoding', { Add: { 'transfer-encoding': 'chunked' } }, /frames the request or the connection/],
    ['remove Host', { Remove: ['Host'] }, /frames the request or the connection/],
    ['set Connection', { Set: { Connection: 'upgrade' } }, /frames the request or the connection/],
    ['a value with CR LF', { Set: { 'x-a': 'a\r\nx-b: b' } }, /without CR, LF or control characters/],
    ['a value with NUL', { Add: { 'x-a': 'a\0' } }, /without CR, LF or control characters/],
  ];
  for (const [what, headers, message] of refused) {
    test(`refused: ${what}`, () => {
      const checked = withHeaders(headers);
      assert.equal(checked.ok, false);
      assert.match(describeFieldErrors((checked as { errors: Parameters<typeof describeFieldErrors>[0] }).errors), message);
    });
  }
  test('ordinary header edits pass', () => assert.equal(withHeaders({ Set: { 'x-version': 'v2' }, Add: { 'x-trace': '1' }, Remove: ['x-debug'] }).ok, true));
  test('a path with a query is refused in matches, rewrites and redirects', () => {
    for (const route of [{ Match: { PathExact: '/a?b' } }, { Match: { PathPrefix: '/a' }, PrefixRewrite: '/n?z=1' }, { Redirect: { Path: '/n?z=1' } }]) {
      const checked = checkRouter({ Routes: [{ Name: 'r', ...route, ...('Redirect' in route ? {} : { Destination: { Split: [{ Weight: 100 }] } }) }] });
      assert.equal(checked.ok, false, JSON.stringify(route));
      assert.match(describeFieldErrors((checked as { errors: Parameters<typeof describeFieldErrors>[0] }).errors), /holds a query/);
    }
  });
});
