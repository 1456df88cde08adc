import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkIntentions, describeHttpMatch, intentionsKind, precedenceOf, type StoredIntentions } from '../../src/config/intentions.ts';
import { compileIntentions, type IntentionEntry, type HttpRequestFacts } from '../../src/config/intention-table.ts';
import { withIntention, withoutIntention, withSourceReplaced } from '../../src/config/intention-edit.ts';
import { checkMesh, meshKind, withMeshDefaults } from '../../src/config/mesh.ts';
import { describeFieldErrors, type FieldError } from '../../src/config/kind.ts';
import { normalizeRequestTarget } from '../../src/lib/http/path-normalize.ts';

const entry = (Name: string, Sources: StoredIntentions['Sources']): IntentionEntry => {
  const checked = checkIntentions({ Sources });
  assert.ok(checked.ok, checked.ok ? '' : describeFieldErrors(checked.errors));
  return { Name, Config: checked.value };
};

const request = (target: string, method = 'GET', headers: Record<string, string> = {}): HttpRequestFacts => {
  const n = normalizeRequestTarget(target);
  assert.ok(n.ok);
  return { path: n.path, method, headers: (name) => headers[name] };
};

describe('intention decisions', () => {
  test('precedence: exact → exact beats * → exact beats exact → * beats * → *', () => {
    const table = compileIntentions(
      [entry('api', [{ Name: 'web', Action: 'allow' }, { Name: '*', Action: 'deny' }]), entry('*', [{ Name: 'web', Action: 'deny' }, { Name: '*', Action: 'allow' }])],
      'deny',
    );
    const rows: Array<[string, string, string, string, number]> = [
      ['web', 'api', 'allow', 'intention web → api (allow)', 9],
      ['cron', 'api', 'deny', 'intention * → api (deny)', 8],
      ['web', 'db', 'deny', 'intention web → * (deny)', 6],
      ['cron', 'db', 'allow', 'intention * → * (allow)', 5],
    ];
    for (const [source, destination, action, decidedBy, precedence] of rows) {
      assert.deepEqual(table.decide({ source, destination }), { action, decidedBy, precedence, l7: false }, `${source} → ${destination}`);
    }
    assert.deepEqual([precedenceOf('a', 'b'), precedenceOf('*', 'b'), precedenceOf('a', '*'), precedenceOf('*', '*')], [9, 8, 6, 5]);
  });

  test('nothing matches: the mesh default decides, deny unless set otherwise', () => {
    assert.deepEqual(compileIntentions([], 'deny').decide({ source: 'web', destination: 'api' }), { action: 'deny', decidedBy: 'mesh default_policy=deny', precedence: 0, l7: false });
    assert.equal(compileIntentions([], 'allow').decide({ source: 'web', destination: 'api' }).action, 'allow');
    assert.equal(compileIntentions([entry('api', [{ Name: 'web', Action: 'allow' }])], 'deny').decide({ source: 'cron', destination: 'api' }).decidedBy, 'mesh default_policy=deny');
    assert.equal(withMeshDefaults(undefined).default_policy, 'deny');
  });

  test('at one precedence, a matching deny permission beats a matching allow, whatever their order', () => {
    for (const order of [['allow', 'deny'], ['deny', 'allow']] as const) {
      const table = compileIntentions(
        [entry('api', [{ Name: 'web', Permissions: [{ Action: order[0], HTTP: { PathPrefix: '/admin' } }, { Action: order[1], HTTP: { Methods: ['GET'] } }] }])],
        'allow',
      );
      const got = table.decide({ source: 'web', destination: 'api', http: request('/admin/users') });
      assert.equal(got.action, 'deny');
      assert.equal(got.l7, true);
      assert.equal(got.precedence, 9);
    }
  });

  const adminDenied = compileIntentions([entry('api', [{ Name: 'web', Action: 'allow', Permissions: [{ Action: 'deny', HTTP: { PathPrefix: '/admin' } }] }])], 'deny');

  test('a source\'s Action is its L4 fallback: requests no permission matches, and TCP connections', () => {
    assert.deepEqual(adminDenied.decide({ source: 'web', destination: 'api', http: request('/admin') }), { action: 'deny', decidedBy: 'intention web → api (deny, path-prefix /admin)', precedence: 9, l7: true });
    assert.deepEqual(adminDenied.decide({ source: 'web', destination: 'api', http: request('/public') }), { action: 'allow', decidedBy: 'intention web → api (allow)', precedence: 9, l7: false });
    assert.equal(adminDenied.decide({ source: 'web', destination: 'api' }).action, 'allow', 'without http, permissions match nothing');
  });

  test('the /admin variants reach the deny once normalized; /ADMIN is another path', () => {
    for (const target of ['/admin', '/admin/../admin', '//admin', '/%61dmin', '/admin#x', '/%2e%2e/admin', '/x/./../admin/', '/admin?debug=1']) {
      assert.equal(adminDenied.decide({ source: 'web', destination: 'api', http: request(target) }).action, 'deny', target);
    }
    assert.equal(adminDenied.decide({ source: 'web', destination: 'api', http: request('/ADMIN') }).action, 'allow');
  });

  test('permissions only, none matching: the call falls through to lower precedence, then to the default', () => {
    const table = compileIntentions([entry('api', [{ Name: 'web', Permissions: [{ Action: 'deny', HTTP: { PathPrefix: '/admin' } }] }, { Name: '*', Action: 'allow' }])], 'deny');
    assert.equal(table.decide({ source: 'web', destination: 'api', http: request('/admin') }).action, 'deny');
    assert.deepEqual(table.decide({ source: 'web', destination: 'api', http: request('/x') }), { action: 'allow', decidedBy: 'intention * → api (allow)', precedence: 8, l7: false });
    const alone = compileIntentions([entry('api', [{ Name: 'web', Permissions: [{ Action: 'allow', HTTP: { PathExact: '/ok' } }] }])], 'deny');
    assert.equal(alone.decide({ source: 'web', destination: 'api', http: request('/ok') }).action, 'allow');
    assert.equal(alone.decide({ source: 'web', destination: 'api', http: request('/ok/') }).decidedBy, 'mesh default_policy=deny');
    assert.equal(alone.decide({ source: 'web', destination: 'api' }).decidedBy, 'mesh default_policy=deny');
  });

  test('L7 matches: exact and prefix paths, RE2 regexes on the whole path, methods, headers', () => {
    const table = compileIntentions(
      [
        entry('api', [
          {
            Name: 'web',
            Permissions: [
              { Action: 'allow', HTTP: { PathExact: '/health' } },
              { Action: 'allow', HTTP: { PathRegex: '/v[0-9]+/items/[a-z]+', Methods: ['GET', 'HEAD'] } },
              { Action: 'allow', HTTP: { PathPrefix: '/ops/', Header: [{ Name: 'X-Role', Exact: 'ops' }, { Name: 'x-debug', Present: true, Invert: true }] } },
              { Action: 'allow', HTTP: { Header: [{ Name: 'authorization', Prefix: 'Bearer ' }, { Name: 'x-env', Regex: 'prod|staging' }] } },
            ],
          },
        ]),
      ],
      'deny',
    );
    const allowed = (target: string, method = 'GET', headers: Record<string, string> = {}) => table.decide({ source: 'web', destination: 'api', http: request(target, method, headers) }).action === 'allow';
    assert.equal(allowed('/health'), true);
    assert.equal(allowed('/health/x'), false);
    assert.equal(allowed('/v2/items/abc'), true);
    assert.equal(allowed('/v2/items/abc/x'), false, 'a regex matches the whole path');
    assert.equal(allowed('/v2/items/abc', 'POST'), false);
    assert.equal(allowed('/v2/items/abc', 'HEAD'), true);
    assert.equal(allowed('/ops/run', 'POST', { 'x-role': 'ops' }), true);
    assert.equal(allowed('/ops/run', 'POST', { 'x-role': 'ops', 'x-debug': '1' }), false, 'inverted presence');
    assert.equal(allowed('/ops/run', 'POST', { 'x-role': 'dev' }), false);
    assert.equal(allowed('/any', 'PUT', { authorization: 'Bearer t', 'x-env': 'staging' }), true);
    assert.equal(allowed('/any', 'PUT', { authorization: 'Bearer t', 'x-env': 'prod-eu' }), false, 'a header regex matches the whole value');
    assert.equal(allowed('/any', 'PUT', { authorization: 'Bearer t' }), false);
    assert.match(table.decide({ source: 'web', destination: 'api', http: request('/v1/items/a') }).decidedBy, /^intention web → api \(allow, path-regex \/v\[0-9\]\+\/items\/\[a-z\]\+, methods GET,HEAD\)$/);
  });

  test('a backtracking-prone regex runs in linear time', () => {
    const table = compileIntentions([entry('api', [{ Name: 'web', Permissions: [{ Action: 'deny', HTTP: { PathRegex: '/(a+)+$' } }] }])], 'allow');
    const started = performance.now();
    assert.equal(table.decide({ source: 'web', destination: 'api', http: request(`/${'a'.repeat(5000)}!`) }).action, 'allow');
    assert.ok(performance.now() - started < 1000);
  });

  test('needsL7: only destinations with HTTP permissions (their own or *\'s)', () => {
    assert.equal(adminDenied.needsL7('api'), true);
    assert.equal(adminDenied.needsL7('db'), false);
    const star = compileIntentions([entry('*', [{ Name: 'web', Permissions: [{ Action: 'deny', HTTP: { Methods: ['DELETE'] } }] }])], 'allow');
    assert.equal(star.needsL7('db'), true);
    assert.equal(compileIntentions([entry('api', [{ Name: 'web', Action: 'deny' }])], 'allow').needsL7('api'), false);
  });
});

describe('the service-intentions schema', () => {
  const errorsOf = (input: unknown) => {
    const checked = checkIntentions(input);
    assert.equal(checked.ok, false, 'expected refusal');
    return describeFieldErrors((checked as { errors: readonly FieldError[] }).errors);
  };

  test('refuses rules that cannot match or cannot be evaluated safely, naming field and value', () => {
    const p = (HTTP: unknown) => ({ Sources: [{ Name: 'web', Permissions: [{ Action: 'deny', HTTP }] }] });
    assert.match(errorsOf(p({ PathPrefix: 'admin' })), /Sources\[0\]\.Permissions\[0\]\.HTTP\.PathPrefix: must start with "\/", got "admin"/);
    assert.match(errorsOf(p({ PathPrefix: '/x%2Fy' })), /PathPrefix: "\/x%2Fy" is refused: .*encoded slash/);
    assert.match(errorsOf(p({ PathExact: '/a/../admin' })), /is not a normalized path and would never match; give "\/admin"/);
    assert.match(errorsOf(p({ PathRegex: '(?<=a)b' })), /PathRegex: not a valid RE2 regex "\(\?<=a\)b"/);
    assert.match(errorsOf(p({ PathRegex: '(a' })), /PathRegex: not a valid RE2 regex/);
    assert.match(errorsOf(p({ PathExact: '/a', PathPrefix: '/b' })), /at most one of PathExact, PathPrefix, PathRegex, got PathExact, PathPrefix/);
    assert.match(errorsOf(p({})), /at least one of PathExact/);
    assert.match(errorsOf(p({ Methods: ['get'] })), /Methods\[0\]: expected an HTTP method in capitals/);
    assert.match(errorsOf(p({ Header: [{ Name: 'x', Exact: 'a', Prefix: 'b' }] })), /exactly one of Exact, Prefix, Suffix, Regex, Present/);
    assert.match(errorsOf(p({ Path: '/x' })), /unknown key, did you mean PathPrefix\?/);
  });

  test('a source needs a name, an Action or Permissions, and appears once', () => {
    assert.match(errorsOf({ Sources: [{ Name: 'web' }] }), /needs an Action, Permissions, or both/);
    assert.match(errorsOf({ Sources: [{ Name: 'web', Action: 'allow' }, { Name: 'web', Action: 'deny' }] }), /Sources\[1\]\.Name: source web appears twice/);
    assert.match(errorsOf({ Sources: [{ Name: 'we b', Action: 'allow' }] }), /Sources\[0\]\.Name: expected a service name/);
    assert.match(errorsOf({ Sources: [{ Name: 'web', Action: 'permit' }] }), /Action: expected one of allow, deny/);
    assert.ok(checkIntentions({ Sources: [{ Name: '*', Action: 'deny', Description: 'closed' }] }).ok);
  });

  test('entry names: a service or *', () => {
    assert.ok(intentionsKind.nameRule.test('api'));
    assert.ok(intentionsKind.nameRule.test('*'));
    assert.ok(!intentionsKind.nameRule.test('**'));
    assert.ok(!intentionsKind.nameRule.test('a/b'));
  });

  test('describeHttpMatch', () => {
    assert.equal(describeHttpMatch({ PathPrefix: '/admin', Methods: ['GET', 'POST'], Header: [{ Name: 'x-env', Exact: 'prod' }, { Name: 'x-d', Present: true, Invert: true }] }), 'path-prefix /admin, methods GET,POST, header x-env=prod, header x-d absent');
  });
});

describe('intention edits', () => {
  const now = '2026-01-01T00:00:00Z';
  test('allow/deny without a match set the source\'s Action; with one they add or re-decide a permission', () => {
    let c = withIntention(undefined, { source: 'web', action: 'allow' }, now);
    assert.deepEqual(c, { Sources: [{ Name: 'web', CreatedAt: now, Action: 'allow' }] });
    c = withIntention(c, { source: 'web', action: 'deny', http: { PathPrefix: '/admin' } }, 'later');
    c = withIntention(c, { source: 'web', action: 'allow', http: { PathPrefix: '/admin' } }, 'later');
    c = withIntention(c, { source: 'web', action: 'deny', http: { Methods: ['POST', 'GET'] } }, 'later');
    c = withIntention(c, { source: 'web', action: 'allow', http: { Methods: ['GET', 'POST'] } }, 'later');
    assert.deepEqual(c.Sources[0], { Name: 'web', CreatedAt: now, Action: 'allow', Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/admin' } }, { Action: 'allow', HTTP: { Methods: ['POST', 'GET'] } }] });
    assert.ok(checkIntentions(c).ok);
  });

  test('delete removes a source, or one permission (and the source when nothing is left)', () => {
    const c = withIntention(undefined, { source: 'web', action: 'deny', http: { PathExact: '/x' } }, now);
    assert.equal(withoutIntention(c, 'web', { PathExact: '/y' }).removed, false);
    assert.deepEqual(withoutIntention(c, 'web', { PathExact: '/x' }), { config: { Sources: [] }, removed: true });
    const both = withIntention(c, { source: 'web', action: 'allow' }, now);
    assert.deepEqual(withoutIntention(both, 'web', { PathExact: '/x' }).config.Sources, [{ Name: 'web', CreatedAt: now, Action: 'allow' }]);
    assert.deepEqual(withoutIntention(both, 'web'), { config: { Sources: [] }, removed: true });
    assert.equal(withoutIntention(both, 'cron').removed, false);
  });

  test('an exact PUT replaces Action and Permissions, keeping CreatedAt', () => {
    const c = withIntention(undefined, { source: 'web', action: 'deny', http: { PathExact: '/x' } }, now);
    assert.deepEqual(withSourceReplaced(c, { Name: 'web', Action: 'allow' }, 'later').Sources, [{ Name: 'web', Action: 'allow', CreatedAt: now }]);
  });
});

describe('the mesh kind', () => {
  test('default_policy: allow or deny, set with key=value, deny by default', () => {
    assert.deepEqual(meshKind.applySetters({}, ['default_policy=allow']), { default_policy: 'allow' });
    assert.ok(checkMesh({ default_policy: 'allow' }).ok);
    assert.match(describeFieldErrors((checkMesh({ default_policy: 'open' }) as { errors: readonly FieldError[] }).errors), /default_policy: expected one of allow, deny, got "open"/);
    assert.match(describeFieldErrors((checkMesh({ policy: 'allow' }) as { errors: readonly FieldError[] }).errors), /policy: unknown key, did you mean default_policy\?/);
    assert.deepEqual(meshKind.keys, [
      { path: 'default_policy', defaultValue: 'deny', values: ['allow', 'deny'] },
      { path: 'outbound_policy', defaultValue: 'allow_any', values: ['allow_any', 'registry_only'] },
      { path: 'tracing.otlp_endpoint', defaultValue: undefined },
      { path: 'tracing.sampling', defaultValue: 0.01 },
      { path: 'tracing.max_spans_per_second', defaultValue: 1000 },
    ]);
    assert.deepEqual(meshKind.applySetters({}, ['outbound_policy=registry_only']), { outbound_policy: 'registry_only' });
    assert.ok(meshKind.nameRule.test('mesh') && !meshKind.nameRule.test('other'));
  });
});
