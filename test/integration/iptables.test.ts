// meshctl's iptables rules in a real netfilter, inside a network namespace of
// the test bed (never the machine's own tables): they go in beside other
// software's rules, take effect, apply idempotently, and removal leaves the
// ruleset byte for byte as it was, for iptables and ip6tables. Needs root;
// without it the test bed fails with a message saying so.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestbed, type Testbed, type TestbedHost } from '../helpers/testbed.ts';
import { applyRules, removeRules, showRules } from '../../src/iptables/apply.ts';
import { resolveTransparentConfig } from '../../src/iptables/rules.ts';
import type { CommandRunner } from '../../src/iptables/runner.ts';

const PROXY_UID = 4242;
const V6 = 'fd00:6d65:7368::1';
// Excluded from redirection; documentation ranges, so never the test bed's own
// subnet (it picks 10.200-250.x or 172.16-31.x; a 10.250.0.0/16 exclusion once
// swallowed the host's address in CI). Both sit on lo for the probe.
const EXCLUDED = { 4: '198.51.100.7', 6: 'fd00:250::7' } as const;

const OTHER_SOFTWARE = {
  4: `*nat
:DOCKER - [0:0]
:MESH_OTHER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A PREROUTING -p tcp --dport 8443 -j DNAT --to-destination 10.9.9.9:443
-A OUTPUT -d 10.8.0.0/16 -m comment --comment "not-meshctl:vpn" -j RETURN
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp --dport 8000 -j DNAT --to-destination 172.17.0.2:80
-A MESH_OTHER -p tcp --dport 1 -j RETURN
COMMIT
*filter
:OTHER-INPUT - [0:0]
-A INPUT -p tcp --dport 9999 -j ACCEPT
-A INPUT -j OTHER-INPUT
-A OTHER-INPUT -s 192.0.2.0/24 -m comment --comment "some other tool" -j DROP
COMMIT
`,
  6: `*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A PREROUTING -p tcp --dport 8443 -j DNAT --to-destination [fd00:9::9]:443
-A OUTPUT -d fd00:8::/32 -j RETURN
-A DOCKER ! -i docker0 -p tcp --dport 8000 -j DNAT --to-destination [fd00:17::2]:80
COMMIT
*filter
-A INPUT -p tcp --dport 9999 -j ACCEPT
-A OUTPUT -d 2001:db8::/32 -m comment --comment "some other tool" -j REJECT
COMMIT
`,
} as const;

/** iptables-save without its dated header lines and with zeroed counters. */
const normalise = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
    .join('\n');

/** The legacy backend's tools under the names meshctl calls (as update-alternatives would set them). */
const BACKENDS = {
  nft: (file: string) => file,
  legacy: (file: string) => file.replace(/^(ip6?tables)/, '$1-legacy'),
} as const;

const nsRunner =
  (host: TestbedHost, tool: (file: string) => string): CommandRunner =>
  async (file, args, input) => {
    const r = await host.exec(tool(file), args, input === undefined ? {} : { input });
    return { exitCode: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

// Connects (as root, or as `uid`) to each target and reports which answered
// on the listener standing in for the proxy (15001) and which were refused.
const PROBE = `
const net = require('node:net');
const [uid, ...targets] = process.argv.slice(1);
const server = net.createServer((s) => s.end('proxy')).listen({ port: 15001, host: '::', ipv6Only: false }, async () => {
  if (uid !== 'root') process.setuid(Number(uid));
  const out = {};
  for (const t of targets) {
    const i = t.lastIndexOf(':');
    out[t] = await new Promise((resolve) => {
      const c = net.connect({ host: t.slice(0, i).replace(/[\\[\\]]/g, ''), port: Number(t.slice(i + 1)), timeout: 3000 });
      let data = '';
      c.on('data', (d) => (data += d)).on('end', () => resolve(data || 'connected')).on('error', (e) => resolve(e.code)).on('timeout', () => { c.destroy(); resolve('timeout'); });
    });
  }
  console.log(JSON.stringify(out));
  server.close();
});`;

for (const [backend, tool] of Object.entries(BACKENDS)) describe(`iptables rules in a network namespace (${backend} backend)`, () => {
  let bed: Testbed;
  let host: TestbedHost;
  let run: CommandRunner;
  const config = resolveTransparentConfig({ proxyUid: PROXY_UID, inboundPorts: [8080], redirectDns: true, excludeOutboundCidrs: ['198.51.100.0/24', 'fd00:250::/32'] });

  const saveAll = async () => ({
    4: normalise((await host.exec(tool('iptables-save'), [], { check: true })).stdout),
    6: normalise((await host.exec(tool('ip6tables-save'), [], { check: true })).stdout),
  });
  const probe = async (uid: string, targets: string[]) => JSON.parse((await host.exec(process.execPath, ['-e', PROBE, uid, ...targets], { check: true })).stdout) as Record<string, string>;

  before(async () => {
    bed = await createTestbed({ hosts: 1, name: `iptables-${backend}` });
    host = bed.hosts[0]!;
    run = nsRunner(host, tool);
    await host.exec('ip', ['-6', 'addr', 'add', `${V6}/128`, 'dev', 'lo'], { check: true });
    await host.exec('ip', ['-6', 'addr', 'add', `${EXCLUDED[6]}/128`, 'dev', 'lo'], { check: true });
    await host.exec('ip', ['addr', 'add', `${EXCLUDED[4]}/32`, 'dev', 'lo'], { check: true });
    // connect() needs a route before nat OUTPUT runs; a real host's default
    // route covers the VIP range, the test bed has none (it stays on the bridge).
    await host.exec('ip', ['route', 'add', '240.0.0.0/4', 'dev', host.iface], { check: true });
    await host.exec(tool('iptables-restore'), ['--noflush'], { input: OTHER_SOFTWARE[4], check: true });
    await host.exec(tool('ip6tables-restore'), ['--noflush'], { input: OTHER_SOFTWARE[6], check: true });
  });
  after(async () => {
    await bed?.destroy();
  });

  test('apply adds the rules beside the others, they redirect, apply again changes nothing, remove restores the ruleset byte for byte', async () => {
    const before = await saveAll();
    assert.equal(before[4].includes('MESH_INBOUND'), false);

    // Nothing redirected yet: the host's own address and the v6 one refuse port 80.
    const direct = await probe('root', [`${host.ip}:80`, `[${V6}]:80`]);
    assert.deepEqual(direct, { [`${host.ip}:80`]: 'ECONNREFUSED', [`[${V6}]:80`]: 'ECONNREFUSED' });

    const result = await applyRules(config, { run });
    assert.deepEqual(result, { backend, ipv4: 'redirect', ipv6: 'redirect' });
    const applied = await saveAll();
    for (const family of [4, 6] as const) {
      assert.match(applied[family], /^-A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m comment --comment "?meshctl:inbound"? -j MESH_INBOUND$/m);
      assert.match(applied[family], /^-A OUTPUT -m comment --comment "?meshctl:output"? -j MESH_OUTPUT$/m);
      // Inserted first in the built-in chains, ahead of the other software's rules.
      const natOutput = applied[family].slice(applied[family].indexOf('*nat')).split('\n').filter((l) => l.startsWith('-A OUTPUT'));
      assert.match(natOutput[0] ?? '', /MESH_OUTPUT/);
    }

    const shown = await showRules({ run });
    assert.deepEqual(shown.map((s) => `${s.family}/${s.table}`), ['4/nat', '6/nat']);
    for (const table of shown) {
      assert.ok(table.lines.some((l) => l.includes('--uid-owner 4242')), table.lines.join('\n'));
      assert.ok(!table.lines.some((l) => /DOCKER|MESH_OTHER|not-meshctl/.test(l)), table.lines.join('\n'));
    }

    // In effect: an app's connections land on the outbound listener; the
    // proxy's own uid and loopback go direct; excluded CIDRs go direct.
    const redirected = await probe('root', [`${host.ip}:80`, `[${V6}]:80`, '127.0.0.1:80', '240.1.2.3:80']);
    assert.deepEqual(redirected, { [`${host.ip}:80`]: 'proxy', [`[${V6}]:80`]: 'proxy', '127.0.0.1:80': 'ECONNREFUSED', '240.1.2.3:80': 'proxy' });
    const excluded = await probe('root', [`${EXCLUDED[4]}:80`, `[${EXCLUDED[6]}]:80`]);
    assert.deepEqual(excluded, { [`${EXCLUDED[4]}:80`]: 'ECONNREFUSED', [`[${EXCLUDED[6]}]:80`]: 'ECONNREFUSED' });
    const asProxy = await probe(String(PROXY_UID), [`${host.ip}:80`, `[${V6}]:80`]);
    assert.deepEqual(asProxy, { [`${host.ip}:80`]: 'ECONNREFUSED', [`[${V6}]:80`]: 'ECONNREFUSED' });

    await applyRules(config, { run });
    assert.deepEqual(await saveAll(), applied, 'a second apply leaves the same ruleset');

    // Another config replaces the rules whole: no DNS chain, no inbound chains left behind.
    await applyRules(resolveTransparentConfig({ proxyUid: PROXY_UID }), { run });
    const replaced = await saveAll();
    for (const family of [4, 6] as const) assert.doesNotMatch(replaced[family], /MESH_DNS|MESH_INBOUND|--uid-owner 4242 .*\n[^]*--uid-owner 4242/);
    await applyRules(config, { run });
    assert.deepEqual(await saveAll(), applied, 'and back again');

    const removed = await removeRules({ run });
    assert.ok(removed.removed > 0);
    assert.deepEqual(await saveAll(), before, 'removal restores the ruleset byte for byte');
    assert.deepEqual(await showRules({ run }), []);
    assert.deepEqual(await removeRules({ run }), { removed: 0 }, 'a second remove has nothing to do');
    assert.deepEqual(await probe('root', [`${host.ip}:80`]), { [`${host.ip}:80`]: 'ECONNREFUSED' });
  });

  test('when the ip6tables nat table is unusable, meshed IPv6 is refused, and removal takes that back too', async () => {
    const before = await saveAll();
    const noV6Nat: CommandRunner = (file, args, input) =>
      tool(file) === tool('ip6tables') && args.includes('nat') ? Promise.resolve({ exitCode: 3, stdout: '', stderr: "ip6tables v1.8.9: can't initialize ip6tables table `nat'" }) : run(file, args, input);

    const result = await applyRules(config, { run: noV6Nat });
    assert.equal(result.ipv6, 'refuse');
    assert.match(result.ipv6Reason ?? '', /nat table is unusable/);
    const applied = await saveAll();
    assert.match(applied[6], /^-A OUTPUT -p tcp -m comment --comment "?meshctl:refuse-output"? -j MESH_REFUSE_OUTPUT$/m);
    assert.doesNotMatch(applied[6], /MESH_OUTPUT/);
    assert.deepEqual((await showRules({ run })).map((s) => `${s.family}/${s.table}`), ['4/nat', '6/filter']);

    // An app's v6 connection to a non-loopback address is reset; v4 is still redirected; the proxy's uid passes.
    const app = await probe('root', [`[${V6}]:15001`, `${host.ip}:80`, '[::1]:15001']);
    assert.deepEqual(app, { [`[${V6}]:15001`]: 'ECONNREFUSED', [`${host.ip}:80`]: 'proxy', '[::1]:15001': 'proxy' });
    assert.deepEqual(await probe(String(PROXY_UID), [`[${V6}]:15001`]), { [`[${V6}]:15001`]: 'proxy' });

    await removeRules({ run });
    assert.deepEqual(await saveAll(), before);
  });
});
