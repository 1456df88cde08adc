import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseUpstreams, isLoopbackNameserver, parseResolvConf, readResolvConf, upstreamResolvers } from '../../../src/dns/resolv-conf.ts';

test('resolv.conf parses the way glibc reads it', () => {
  const table: Array<[string, string, ReturnType<typeof parseResolvConf>]> = [
    [
      'systemd-resolved stub',
      '# This is /run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example .\n',
      { nameservers: ['127.0.0.53:53'], search: ['corp.example'], options: { edns0: true, 'trust-ad': true } },
    ],
    [
      'IPv4 and IPv6, tabs and comments',
      '; comment\nnameserver\t10.0.0.2\nnameserver 2001:db8::53\nnameserver fe80::1%eth0\noptions ndots:2 timeout:1 rotate\n',
      { nameservers: ['10.0.0.2:53', '[2001:db8::53]:53', '[fe80::1%eth0]:53'], search: [], options: { ndots: '2', timeout: '1', rotate: true } },
    ],
    [
      'only the first three nameservers count',
      'nameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n',
      { nameservers: ['1.1.1.1:53', '1.0.0.1:53', '8.8.8.8:53'], search: [], options: {} },
    ],
    [
      'the last of domain and search wins',
      'search a.example b.example\ndomain c.example\n',
      { nameservers: ['127.0.0.1:53'], search: ['c.example'], options: {} },
    ],
    [
      'bad nameserver lines are skipped',
      'nameserver dns.example\nnameserver\nnameserver 192.0.2.1 extra\n',
      { nameservers: ['192.0.2.1:53'], search: [], options: {} },
    ],
    ['empty: glibc queries the local host', '', { nameservers: ['127.0.0.1:53'], search: [], options: {} }],
  ];
  for (const [name, text, want] of table) assert.deepEqual(parseResolvConf(text), want, name);
});

test('reading resolv.conf: a missing file means the defaults', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'resolv-'));
  assert.deepEqual((await readResolvConf(join(dir, 'missing'))).nameservers, ['127.0.0.1:53']);
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
  assert.deepEqual((await readResolvConf(join(dir, 'resolv.conf'))).nameservers, ['192.0.2.53:53']);
});

test('loopback nameservers: 127.0.0.0/8 and ::1, nothing else', () => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.53:53', true],
    ['127.0.0.1:53', true],
    ['[::1]:53', true],
    ['10.0.0.2:53', false],
    ['[2001:db8::53]:53', false],
    ['[fe80::1%eth0]:53', false],
    ['[::ffff:127.0.0.1]:53', false],
  ];
  for (const [nameserver, want] of table) assert.equal(isLoopbackNameserver(nameserver), want, nameserver);
});

test('upstreams: past a loopback stub to systemd-resolved\'s own servers, when they are known', () => {
  const stub = 'nameserver 127.0.0.53\noptions edns0 trust-ad\n';
  const resolved = '# This is /run/systemd/resolve/resolv.conf\nnameserver 10.0.0.2\nnameserver 2001:db8::53\nsearch corp.example\n';
  const table: Array<[string, string, string | undefined, string[]]> = [
    ['real servers in resolv.conf are used as they are', 'nameserver 10.0.0.2\nnameserver 127.0.0.1\n', resolved, ['10.0.0.2:53', '127.0.0.1:53']],
    ['the systemd-resolved stub: its upstreams', stub, resolved, ['10.0.0.2:53', '[2001:db8::53]:53']],
    ['several loopback stubs, v4 and v6: the upstreams', 'nameserver 127.0.0.53\nnameserver ::1\n', resolved, ['10.0.0.2:53', '[2001:db8::53]:53']],
    ['no systemd-resolved file: the stub itself', 'nameserver 127.0.0.1\n', undefined, ['127.0.0.1:53']],
    ['systemd-resolved without upstreams: the stub itself', stub, '# no servers\n', ['127.0.0.53:53']],
    ['systemd-resolved listing only loopback: the stub itself', stub, 'nameserver 127.0.0.1\n', ['127.0.0.53:53']],
    ['empty resolv.conf means 127.0.0.1: the upstreams', '', resolved, ['10.0.0.2:53', '[2001:db8::53]:53']],
  ];
  for (const [name, resolvConf, systemd, want] of table) assert.deepEqual(chooseUpstreams(resolvConf, systemd), want, name);
});

test('upstreamResolvers reads both files, the second only behind a loopback stub', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'resolv-'));
  const resolvConf = join(dir, 'resolv.conf');
  const systemdResolvConf = join(dir, 'systemd-resolv.conf');
  await writeFile(resolvConf, 'nameserver 127.0.0.53\n');
  assert.deepEqual(await upstreamResolvers({ resolvConf, systemdResolvConf }), ['127.0.0.53:53']);
  await writeFile(systemdResolvConf, 'nameserver 192.0.2.53\n');
  assert.deepEqual(await upstreamResolvers({ resolvConf, systemdResolvConf }), ['192.0.2.53:53']);
  await writeFile(resolvConf, 'nameserver 192.0.2.1\n');
  assert.deepEqual(await upstreamResolvers({ resolvConf, systemdResolvConf }), ['192.0.2.1:53']);
  assert.deepEqual(await upstreamResolvers({ resolvConf: join(dir, 'missing'), systemdResolvConf }), ['192.0.2.53:53']);
});
