import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeRequestTarget } from '../../src/lib/http/path-normalize.ts';

describe('normalizeRequestTarget', () => {
  const accepted: Array<[string, string, string]> = [
    // target, path, forward
    ['/', '/', '/'],
    ['/admin', '/admin', '/admin'],
    ['/admin/../admin', '/admin', '/admin'],
    ['//admin', '/admin', '/admin'],
    ['/a//b///c', '/a/b/c', '/a/b/c'],
    ['/%61dmin', '/admin', '/admin'],
    ['/%41DMIN', '/ADMIN', '/ADMIN'],
    ['/admin#x', '/admin', '/admin'],
    ['/ADMIN', '/ADMIN', '/ADMIN'],
    ['/a/./b', '/a/b', '/a/b'],
    ['/a/b/../../..', '/', '/'],
    ['/../../etc/passwd', '/etc/passwd', '/etc/passwd'],
    ['/%2e%2e/admin', '/admin', '/admin'],
    ['/x/%2E%2e/admin', '/admin', '/admin'],
    ['/a/%2e/b', '/a/b', '/a/b'],
    ['/admin/', '/admin/', '/admin/'],
    ['/a/b/..', '/a/', '/a/'],
    ['/a/.', '/a/', '/a/'],
    ['/%7euser/%5F', '/~user/_', '/~user/_'],
    ['/a%20b', '/a%20b', '/a%20b'],
    ['/a%3fb', '/a%3Fb', '/a%3Fb'],
    ['/caf%c3%a9', '/caf%C3%A9', '/caf%C3%A9'],
    ['/a?x=1&y=%2F..//', '/a', '/a?x=1&y=%2F..//'],
    ['//a/../b?q=%zz#frag', '/b', '/b?q=%zz'],
    ['/a?', '/a', '/a?'],
    ['/a;b=c', '/a;b=c', '/a;b=c'],
  ];
  for (const [target, path, forward] of accepted) {
    test(`${target} → ${forward}`, () => {
      const got = normalizeRequestTarget(target);
      assert.ok(got.ok, got.ok ? '' : got.reason);
      assert.equal(got.path, path);
      assert.equal(got.forward, forward);
    });
  }

  test('the query is kept untouched', () => {
    assert.deepEqual(normalizeRequestTarget('/search?q=a%2fb&x=..%2F#top'), { ok: true, path: '/search', query: 'q=a%2fb&x=..%2F', forward: '/search?q=a%2fb&x=..%2F' });
  });

  const refused: Array<[string, RegExp]> = [
    ['/x%2Fy', /encoded slash/],
    ['/x%2fy', /encoded slash/],
    ['/x%5cy', /encoded backslash/],
    ['/x%5Cy', /encoded backslash/],
    ['/x\\y', /backslash/],
    ['/x%00y', /NUL/],
    ['/x\x00y', /outside printable ASCII/],
    ['/x\ny', /outside printable ASCII/],
    ['/x y', /outside printable ASCII/],
    ['/café', /outside printable ASCII/],
    ['/x%zzy', /invalid percent-escape/],
    ['/x%4', /invalid percent-escape/],
    ['/x%', /invalid percent-escape/],
    ['admin', /must start with/],
    ['http://api/admin', /must start with/],
    ['*', /must start with/],
    ['', /must start with/],
  ];
  for (const [target, reason] of refused) {
    test(`${JSON.stringify(target)} is refused`, () => {
      const got = normalizeRequestTarget(target);
      assert.equal(got.ok, false);
      assert.match((got as { reason: string }).reason, reason);
    });
  }
});
