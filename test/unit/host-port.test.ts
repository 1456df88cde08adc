// The one HOST:PORT parser, as a golden table: each text with each caller's
// rules gives its parts or the exact reason a caller appends to its error.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostPortOf, isLoopbackIp, isLoopbackUrl, joinHostPort, parseHostPort, parsePort, splitHostPort, unbracket, urlHostPort, type HostPortRules } from '../../src/lib/net/host-port.ts';

const LISTEN: HostPortRules = { hosts: 'listen', minPort: 0 };
const CHECK: HostPortRules = { hosts: 'name', minPort: 1 };
const RESOLVER: HostPortRules = { hosts: 'ip', minPort: 1, defaultPort: 53 };

const golden: Array<[string, HostPortRules, { host: string; port: number } | string]> = [
  // IPv4, localhost, names
  ['127.0.0.1:15000', LISTEN, { host: '127.0.0.1', port: 15000 }],
  ['0.0.0.0:0', LISTEN, { host: '0.0.0.0', port: 0 }],
  ['localhost:15000', LISTEN, { host: 'localhost', port: 15000 }],
  ['10.1.2.3:65535', LISTEN, { host: '10.1.2.3', port: 65535 }],
  ['example.com:15000', LISTEN, 'the host "example.com" is not an IP address or localhost'],
  ['db.service.consul:5432', CHECK, { host: 'db.service.consul', port: 5432 }],
  ['_pg-1.local:5432', CHECK, { host: '_pg-1.local', port: 5432 }],
  ['localhost:5432', RESOLVER, 'the host "localhost" is not an IP address'],
  ['999.1.1.1:80', LISTEN, 'the host "999.1.1.1" is not an IP address or localhost'],
  ['999.1.1.1:80', CHECK, 'the host "999.1.1.1" is not a host name or IP address'],
  ['bad_name-.:80', CHECK, 'the host "bad_name-." is not a host name or IP address'],
  // IPv6
  ['[::1]:15000', LISTEN, { host: '::1', port: 15000 }],
  ['[::]:0', LISTEN, { host: '::', port: 0 }],
  ['[2001:db8::1]:8500', CHECK, { host: '2001:db8::1', port: 8500 }],
  ['::1:15000', LISTEN, 'an IPv6 address goes in brackets, as [::1]:PORT'],
  ['::1:8500', LISTEN, 'an IPv6 address goes in brackets, as [::1]:PORT'],
  ['::1', LISTEN, 'an IPv6 address goes in brackets, as [::1]:PORT'],
  ['[127.0.0.1]:15000', LISTEN, '"127.0.0.1" in brackets is not an IPv6 address (only IPv6 goes in brackets)'],
  ['[example.com]:80', CHECK, '"example.com" in brackets is not an IPv6 address (only IPv6 goes in brackets)'],
  // bad brackets
  ['[::1', LISTEN, 'the "[" has no closing "]"'],
  ['[::1]15000', LISTEN, 'only ":PORT" may follow "]"'],
  ['[::1]', LISTEN, 'there is no port'],
  ['[]:80', LISTEN, 'the host is empty'],
  ['::1]:80', LISTEN, 'an IPv6 address goes in brackets, as [::1]:PORT'],
  ['a]:80', CHECK, 'the host "a]" is not a host name or IP address'],
  // ports
  ['127.0.0.1:0', CHECK, 'the port 0 is outside 1..65535'],
  ['127.0.0.1:65536', LISTEN, 'the port 65536 is outside 0..65535'],
  ['127.0.0.1:99999', LISTEN, 'the port 99999 is outside 0..65535'],
  ['127.0.0.1:', LISTEN, 'the port "" is not a number'],
  ['127.0.0.1:http', LISTEN, 'the port "http" is not a number'],
  ['127.0.0.1:-1', LISTEN, 'the port "-1" is not a number'],
  ['127.0.0.1:1e3', LISTEN, 'the port "1e3" is not a number'],
  ['127.0.0.1', LISTEN, 'there is no port'],
  ['nonsense', LISTEN, 'there is no port'],
  // empty host, empty text, spaces
  [':15000', LISTEN, 'the host is empty'],
  ['', LISTEN, 'it is empty'],
  ['127.0.0.1:15000 ', LISTEN, 'it contains a space'],
  [' 127.0.0.1:15000', LISTEN, 'it contains a space'],
  ['127.0.0.1 :15000', LISTEN, 'it contains a space'],
  ['[::1]:\t53', RESOLVER, 'it contains a space'],
  // a default port where the caller has one: the host alone, bracketed or bare IPv6
  ['10.0.0.2', RESOLVER, { host: '10.0.0.2', port: 53 }],
  ['10.0.0.2:5353', RESOLVER, { host: '10.0.0.2', port: 5353 }],
  ['::1', RESOLVER, { host: '::1', port: 53 }],
  ['::1:5353', RESOLVER, { host: '::1:5353', port: 53 }],
  ['[2001:db8::1]', RESOLVER, { host: '2001:db8::1', port: 53 }],
  ['[::1]:5353', RESOLVER, { host: '::1', port: 5353 }],
  ['dns.example', RESOLVER, 'the host "dns.example" is not an IP address'],
  ['10.0.0.2:0', RESOLVER, 'the port 0 is outside 1..65535'],
];

for (const [text, rules, want] of golden) {
  test(`${JSON.stringify(text)} (${rules.hosts}, ports from ${rules.minPort}${rules.defaultPort ? `, default ${rules.defaultPort}` : ''}) → ${typeof want === 'string' ? want : `${want.host} ${want.port}`}`, () => {
    assert.deepEqual(parseHostPort(text, rules), typeof want === 'string' ? { ok: false, reason: want } : { ok: true, value: want });
  });
}

test('a port alone: digits only, from the minimum the caller allows to 65535', () => {
  assert.deepEqual(parsePort('0', 0), { ok: true, value: 0 });
  assert.deepEqual(parsePort('65535', 1), { ok: true, value: 65535 });
  assert.deepEqual(parsePort('0', 1), { ok: false, reason: 'the port 0 is outside 1..65535' });
  assert.deepEqual(parsePort('65536', 0), { ok: false, reason: 'the port 65536 is outside 0..65535' });
  assert.deepEqual(parsePort('15001.5', 1), { ok: false, reason: 'the port "15001.5" is not a number' });
  assert.deepEqual(parsePort(' 80', 1), { ok: false, reason: 'the port " 80" is not a number' });
});

test('the syntax alone splits without judging the host or the port', () => {
  assert.deepEqual(splitHostPort('fd00::1.x:port'), { ok: false, reason: 'an IPv6 address goes in brackets, as [::1]:PORT' });
  assert.deepEqual(splitHostPort('[fd00::1]:x'), { ok: true, value: { host: 'fd00::1', port: 'x', bracketed: true } });
  assert.deepEqual(splitHostPort('a:'), { ok: true, value: { host: 'a', port: '', bracketed: false } });
});

test('joining brackets any host with a colon, and parsing it back gives the parts', () => {
  const table: Array<[string, number, string]> = [
    ['127.0.0.1', 8500, '127.0.0.1:8500'],
    ['::1', 8500, '[::1]:8500'],
    ['fe80::1%eth0', 80, '[fe80::1%eth0]:80'],
    ['db.local', 5432, 'db.local:5432'],
  ];
  for (const [host, port, want] of table) {
    assert.equal(joinHostPort(host, port), want);
    if (!host.includes('%')) assert.deepEqual(hostPortOf(want, CHECK), { host, port });
  }
  assert.throws(() => hostPortOf('[::1', CHECK), { message: '"[::1" is not HOST:PORT: the "[" has no closing "]"' });
  assert.equal(unbracket('[::1]'), '::1');
  assert.equal(unbracket('example.com'), 'example.com');
});

test('loopback: 127.0.0.0/8 and ::1 as IPs, localhost as a URL name, never a name that starts with "127."', () => {
  const ips: Array<[string, boolean]> = [['127.0.0.1', true], ['127.53.0.9', true], ['::1', true], ['10.0.0.1', false], ['::', false], ['127.example.com', false], ['localhost', false]];
  for (const [host, want] of ips) assert.equal(isLoopbackIp(host), want, host);
  const urls: Array<[string, boolean]> = [['https://127.0.0.1:8501', true], ['http://[::1]:8500', true], ['http://localhost:8500', true], ['https://127.example.com', false], ['https://10.0.0.1:8501', false]];
  for (const [url, want] of urls) assert.equal(isLoopbackUrl(url), want, url);
});

test("a URL's host and port: unbracketed, the scheme's default port when it gives none", () => {
  assert.deepEqual(urlHostPort(new URL('https://[fd00::1]:8501/x')), { host: 'fd00::1', port: 8501 });
  assert.deepEqual(urlHostPort(new URL('https://server.local')), { host: 'server.local', port: 443 });
  assert.deepEqual(urlHostPort(new URL('http://10.0.0.1')), { host: '10.0.0.1', port: 80 });
});
