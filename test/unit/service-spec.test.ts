import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callerOf, checkUnique, parseServiceFlag, parseUpstreamFlag, resolveCallers } from '../../src/agent/config/service-spec.ts';

test('--service parses every option', () => {
  assert.deepEqual(parseServiceFlag('web=8080,check=http://127.0.0.1:8080/health,interval=2s,timeout=1s,tags=v1|canary,meta=version:2|team:web,weight=3'), {
    id: 'web',
    name: 'web',
    port: 8080,
    address: '',
    tags: ['v1', 'canary'],
    meta: { version: '2', team: 'web' },
    weight: 3,
    check: { kind: 'http', url: 'http://127.0.0.1:8080/health', intervalMs: 2000, timeoutMs: 1000 },
  });
});

test('check SPECs: http, tcp and ttl, with Consul-like defaults', () => {
  assert.deepEqual(parseServiceFlag('db=5432,check=tcp:127.0.0.1:5432').check, { kind: 'tcp', address: '127.0.0.1:5432', intervalMs: 10_000, timeoutMs: 5_000 });
  assert.deepEqual(parseServiceFlag('job=1,check=ttl:15s').check, { kind: 'ttl', ttlMs: 15_000 });
  const fast = parseServiceFlag('web=1,check=http://x/,interval=1s').check;
  assert.equal(fast?.kind === 'http' ? fast.timeoutMs : 0, 1000, 'the timeout never exceeds the interval');
  assert.equal(parseServiceFlag('web=80').check, undefined);
});

test('malformed --service values are refused with the form that works', () => {
  const table: Array<[string, RegExp]> = [
    ['web', /expected NAME=PORT first/],
    ['web=', /"" is not a port/],
    ['web=99999', /"99999" is not a port/],
    ['-web=80', /not a valid name/],
    ['web=80,check=ftp://x', /not a known kind/],
    ['web=80,check=tcp:nohost', /has no host:port/],
    ['web=80,check=ttl:soon', /not a duration/],
    ['web=80,weight=0', /weight "0"/],
    ['web=80,meta=novalue', /meta "novalue" is not key:value/],
    ['web=80,colour=red', /unknown option "colour"/],
    ['web=80,interval=1s', /interval and timeout need a check/],
    ['web=80,tags', /"tags" has no value/],
  ];
  for (const [flag, message] of table) {
    assert.throws(() => parseServiceFlag(flag), (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, 'MESH_E_USAGE', flag);
      assert.match(error.message, message, flag);
      assert.ok(error.hint, `${flag} has a hint`);
      return true;
    });
  }
});

test('--upstream and uniqueness', () => {
  assert.deepEqual(parseUpstreamFlag('web:9191'), { name: 'web', localPort: 9191 });
  assert.throws(() => parseUpstreamFlag('web'), /expected NAME:LOCALPORT/);
  assert.throws(() => parseUpstreamFlag('web:0'), /not a port/);
  assert.throws(() => checkUnique([parseServiceFlag('a=1'), parseServiceFlag('a=2')], []), /given twice/);
  assert.doesNotThrow(() => checkUnique([parseServiceFlag('a=1'), parseServiceFlag('a=2,id=a-2')], []), 'two instances with their own ids');
  assert.throws(() => checkUnique([], [parseUpstreamFlag('a:9'), parseUpstreamFlag('b:9')]), /two upstreams/);
});

test('the identity an upstream calls with: as=, else --identity, else the one local service', () => {
  assert.deepEqual(parseUpstreamFlag('web:9191,as=client'), { name: 'web', localPort: 9191, as: 'client' });
  assert.throws(() => parseUpstreamFlag('web:9191,like=client'), /unknown option "like=client"/);
  assert.throws(() => parseUpstreamFlag('web:9191,as='), /unknown option "as="/);
  const one = [parseServiceFlag('client=7000'), parseServiceFlag('client=7001,id=client-2')];
  const two = [parseServiceFlag('client=7000'), parseServiceFlag('batch=7100')];
  assert.equal(callerOf(one, parseUpstreamFlag('web:9191')), 'client', 'one service name (two instances of it) needs no as=');
  assert.equal(callerOf([], parseUpstreamFlag('web:9191')), undefined, 'a host with no service has no identity');
  assert.equal(callerOf(two, parseUpstreamFlag('web:9191,as=batch')), 'batch');
  assert.equal(callerOf(two, parseUpstreamFlag('web:9191'), 'client'), 'client');
  assert.equal(callerOf(two, parseUpstreamFlag('web:9191,as=batch'), 'client'), 'batch', 'as= beats --identity');
  assert.throws(() => resolveCallers(two, [parseUpstreamFlag('web:9191')]), (e: Error & { hint?: string }) => /this host runs client, batch, so say which one calls it/.test(e.message) && /--upstream web:9191,as=client, or --identity client/.test(e.hint ?? ''));
  assert.doesNotThrow(() => resolveCallers(two, [parseUpstreamFlag('web:9191')], 'batch'));
  assert.throws(() => resolveCallers(two, [parseUpstreamFlag('web:9191,as=nope')]), /calls as "nope", which is not a service on this host/);
  assert.throws(() => resolveCallers(two, [], 'nope'), /--identity "nope" is not a service on this host/);
});
