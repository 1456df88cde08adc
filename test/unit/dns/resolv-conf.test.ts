import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseResolvConf, readResolvConf } from '../../../src/dns/resolv-conf.ts';

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
