import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSelf, parseUpstream } from '../../../src/dns/upstream.ts';

test('upstreams parse as host or host:port', () => {
  const table: Array<[string, { host: string; port: number; family: 4 | 6 } | string]> = [
    ['10.0.0.2', { host: '10.0.0.2', port: 53, family: 4 }],
    ['10.0.0.2:5353', { host: '10.0.0.2', port: 5353, family: 4 }],
    ['::1', { host: '::1', port: 53, family: 6 }],
    ['[::1]:5353', { host: '::1', port: 5353, family: 6 }],
    ['[2001:db8::1]', { host: '2001:db8::1', port: 53, family: 6 }],
    ['dns.example', 'not an IP address'],
    ['10.0.0.2:x', 'not a number'],
    ['10.0.0.2:70000', 'outside 1..65535'],
  ];
  for (const [text, want] of table) {
    if (typeof want === 'string') assert.throws(() => parseUpstream(text), (e: Error) => e.message.includes(want), text);
    else assert.deepEqual(parseUpstream(text), want, text);
  }
});

test('an upstream that is our own listener is recognised', () => {
  const table: Array<[string, { host: string; port: number }, boolean]> = [
    ['127.0.0.1:15053', { host: '127.0.0.1', port: 15053 }, true],
    ['127.0.0.1:53', { host: '127.0.0.1', port: 15053 }, false],
    ['127.0.0.53:15053', { host: '0.0.0.0', port: 15053 }, true],
    ['10.0.0.2:15053', { host: '127.0.0.1', port: 15053 }, false],
    ['[::1]:15053', { host: '::', port: 15053 }, true],
  ];
  for (const [text, listen, want] of table) assert.equal(isSelf(parseUpstream(text), listen), want, text);
});
