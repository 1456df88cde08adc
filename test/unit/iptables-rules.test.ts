// The iptables rule builder: its scripts against golden files (UPDATE_GOLDEN=1
// rewrites them; review the diff), and the config's validation as a table.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { MeshError } from '../../src/lib/errors.ts';
import { normaliseCidr } from '../../src/iptables/cidr.ts';
import { buildRefuseIpv6, buildRules, resolveTransparentConfig, type TransparentInput } from '../../src/iptables/rules.ts';

const GOLDEN_DIR = new URL('./golden/iptables/', import.meta.url);

function checkGolden(name: string, text: string): void {
  const file = new URL(`${name}.rules`, GOLDEN_DIR);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${name}: rerun with UPDATE_GOLDEN=1 and review the diff if the change is intended`);
}

const base: TransparentInput = { proxyUid: 998, inboundPorts: [8080, 9090] };

const cases: Array<{ name: string; input: TransparentInput; build: 'v4' | 'v6' | 'refuse' }> = [
  { name: 'default', input: base, build: 'v4' },
  { name: 'dns', input: { ...base, redirectDns: true }, build: 'v4' },
  {
    name: 'exclusions-v4',
    input: { ...base, excludeInboundPorts: [2222], excludeOutboundPorts: [5432, '6379'], excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::/8', '169.254.169.254', '2001:db8::1'] },
    build: 'v4',
  },
  {
    name: 'exclusions-v6',
    input: { ...base, excludeInboundPorts: [2222], excludeOutboundPorts: [5432, '6379'], excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::/8', '169.254.169.254', '2001:db8::1'] },
    build: 'v6',
  },
  {
    name: 'destinations-v4',
    input: { ...base, excludeOutboundDestinations: [{ address: '10.0.0.5', port: 8300 }, { address: 'fd00::5', port: '8300' }, { address: '10.0.0.6', port: 8301 }] },
    build: 'v4',
  },
  {
    name: 'destinations-v6',
    input: { ...base, excludeOutboundDestinations: [{ address: '10.0.0.5', port: 8300 }, { address: 'FD00:0::5', port: '8300' }] },
    build: 'v6',
  },
  { name: 'refuse-ipv6-destinations', input: { ...base, excludeOutboundDestinations: [{ address: '10.0.0.5', port: 8300 }, { address: 'fd00::5', port: 8300 }] }, build: 'refuse' },
  { name: 'no-inbound-ports', input: { proxyUid: 998 }, build: 'v4' },
  { name: 'ipv6', input: { ...base, redirectDns: true }, build: 'v6' },
  { name: 'refuse-ipv6', input: { ...base, excludeOutboundPorts: [5432], excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::/8'] }, build: 'refuse' },
  { name: 'refuse-ipv6-no-inbound-ports', input: { proxyUid: 998 }, build: 'refuse' },
];

for (const { name, input, build } of cases) {
  test(`the ${name} script matches its golden file`, () => {
    const config = resolveTransparentConfig(input);
    const text = build === 'refuse' ? buildRefuseIpv6(config) : buildRules(config, build === 'v4' ? 4 : 6);
    checkGolden(name, text);
  });
}

test('every rule and every jump in a built-in chain carries a meshctl: comment', () => {
  const config = resolveTransparentConfig({ ...base, redirectDns: true, excludeOutboundPorts: [1], excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::/8'] });
  for (const text of [buildRules(config, 4), buildRules(config, 6), buildRefuseIpv6(config)]) {
    const rules = text.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith('-I '));
    assert.ok(rules.length > 0);
    for (const rule of rules) assert.match(rule, / -m comment --comment meshctl:[a-z0-9-]+ /, rule);
    for (const chain of text.split('\n').filter((l) => l.startsWith(':'))) assert.match(chain, /^:MESH_[A-Z_]+ - \[0:0\]$/);
  }
});

test("the proxy's own traffic returns before DNS or any other redirect", () => {
  const lines = buildRules(resolveTransparentConfig({ ...base, redirectDns: true }), 4).split('\n').filter((l) => l.startsWith('-A MESH_OUTPUT'));
  assert.match(lines[0] ?? '', /--uid-owner 998 .*-j RETURN$/);
});

test('virtual IPs are redirected even when a wider excluded CIDR covers them', () => {
  const lines = buildRules(resolveTransparentConfig({ ...base, excludeOutboundCidrs: ['0.0.0.0/0'], excludeOutboundPorts: [80] }), 4).split('\n');
  const vip = lines.findIndex((l) => l.includes('-d 240.0.0.0/4'));
  const cidr = lines.findIndex((l) => l.includes('-d 0.0.0.0/0'));
  const port = lines.findIndex((l) => l.includes('--dport 80 '));
  assert.ok(vip >= 0 && vip < cidr && vip < port);
});

test('only connections addressed to this host are taken inbound, not traffic routed through it', () => {
  const config = resolveTransparentConfig(base);
  for (const family of [4, 6] as const) {
    const jump = buildRules(config, family).split('\n').find((l) => l.startsWith('-I PREROUTING'));
    assert.match(jump ?? '', /^-I PREROUTING 1 -p tcp -m addrtype --dst-type LOCAL .*-j MESH_INBOUND$/);
  }
});

test('an excluded destination is one host and port, after the virtual IPs and before the catch-all redirect', () => {
  const config = resolveTransparentConfig({ ...base, excludeOutboundDestinations: [{ address: '240.0.0.9', port: 8300 }] });
  assert.deepEqual(config.excludeOutboundDestinations, [{ address: '240.0.0.9/32', port: 8300 }]);
  const lines = buildRules(config, 4).split('\n');
  const vip = lines.findIndex((l) => l.includes('meshctl:vip'));
  const destination = lines.findIndex((l) => l.includes('-d 240.0.0.9/32 -p tcp --dport 8300 ') && l.endsWith('-j RETURN'));
  const outbound = lines.findIndex((l) => l.includes('meshctl:outbound '));
  assert.ok(vip >= 0 && vip < destination && destination < outbound, lines.join('\n'));
});

test('defaults: the agent ports and 22 are always excluded inbound; the listener ports follow the config', () => {
  const config = resolveTransparentConfig({ proxyUid: '998', inboundPort: 16006, excludeInboundPorts: ['22', 3000] });
  assert.deepEqual(config.excludeInboundPorts, [22, 3000, 15000, 15001, 15053, 15090, 16006]);
  assert.equal(config.outboundPort, 15001);
  // An agent with another --metrics-port keeps that one out instead; a service on it is refused.
  assert.deepEqual(resolveTransparentConfig({ proxyUid: '998', metricsPort: 19090 }).excludeInboundPorts, [22, 15000, 15001, 15006, 15053, 19090]);
  assert.throws(() => resolveTransparentConfig({ proxyUid: '998', metricsPort: 19090, inboundPorts: [19090] }), /19090 is also an excluded inbound port/);
  // Likewise --admin-addr's port: a service may then use 15000.
  const admin = resolveTransparentConfig({ proxyUid: '998', adminPort: 16000, inboundPorts: [15000] });
  assert.deepEqual([admin.excludeInboundPorts, admin.inboundPorts], [[22, 15001, 15006, 15053, 15090, 16000], [15000]]);
  assert.equal(config.redirectDns, false);
  assert.deepEqual(config.meshVipCidrs, ['240.0.0.0/4']);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.inboundPorts));
});

test('CIDRs are normalised to their network address, v4 and v6', () => {
  const table: Array<[string, string | undefined]> = [
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['10.1.2.3', '10.1.2.3/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['fd00::1/8', 'fd00::/8'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1/128'],
    ['::ffff:10.0.0.1/128', '::ffff:a00:1/128'],
    ['::/0', '::/0'],
    ['10.0.0.0/33', undefined],
    ['fd00::/129', undefined],
    ['10.0.0/8', undefined],
    ['10.0.0.0/8/1', undefined],
    ['example.com', undefined],
    ['10.0.0.0/', undefined],
  ];
  for (const [input, want] of table) assert.equal(normaliseCidr(input), want, input);
});

test('bad settings are refused as usage errors naming the flag and the value', () => {
  const table: Array<[Partial<TransparentInput>, RegExp]> = [
    [{ inboundPorts: [70000] }, /--inbound-port "70000" is not a TCP port/],
    [{ inboundPorts: ['http'] }, /--inbound-port "http" is not a TCP port/],
    [{ inboundPorts: [0] }, /--inbound-port "0" is not a TCP port/],
    [{ inboundPorts: [8080, '8080'] }, /--inbound-port 8080 is given twice/],
    [{ inboundPorts: [22] }, /--inbound-port 22 is also an excluded inbound port/],
    [{ inboundPorts: [15006] }, /--inbound-port 15006 is also an excluded inbound port/],
    [{ inboundPorts: [3000], excludeInboundPorts: [3000] }, /--inbound-port 3000 is also an excluded inbound port/],
    [{ excludeInboundPorts: [-1] }, /--exclude-inbound-port "-1" is not a TCP port/],
    [{ excludeOutboundPorts: [1.5] }, /--exclude-outbound-port "1.5" is not a TCP port/],
    [{ excludeOutboundPorts: [53, 53] }, /--exclude-outbound-port 53 is given twice/],
    [{ excludeOutboundCidrs: ['10.0.0.0/33'] }, /--exclude-outbound-cidr "10.0.0.0\/33" is not a CIDR/],
    [{ excludeOutboundCidrs: ['10.0.0.0/8', '10.1.0.0/8'] }, /--exclude-outbound-cidr 10.1.0.0\/8 is given twice \(as 10.0.0.0\/8/],
    [{ excludeOutboundDestinations: [{ address: 'consul.local', port: 8300 }] }, /--exclude-outbound-destination "consul.local:8300": "consul.local" is not an IP address/],
    [{ excludeOutboundDestinations: [{ address: '10.0.0.0/8', port: 8300 }] }, /--exclude-outbound-destination "10.0.0.0\/8:8300": "10.0.0.0\/8" is not an IP address/],
    [{ excludeOutboundDestinations: [{ address: '10.0.0.5', port: 0 }] }, /--exclude-outbound-destination "10.0.0.5:0": "0" is not a TCP port/],
    [{ excludeOutboundDestinations: [{ address: '10.0.0.5', port: 8300 }, { address: '10.0.0.5', port: '8300' }] }, /--exclude-outbound-destination 10.0.0.5:8300 is given twice/],
    [{ proxyUid: 0 }, /--proxy-uid 0 is root/],
    [{ proxyUid: 'nobody' }, /--proxy-uid "nobody" is not a uid/],
    [{ outboundPort: 99999 }, /--outbound-port "99999" is not a TCP port/],
  ];
  for (const [patch, message] of table) {
    assert.throws(
      () => resolveTransparentConfig({ ...base, ...patch }),
      (error: unknown) => error instanceof MeshError && error.code === 'MESH_E_USAGE' && message.test(error.message),
      JSON.stringify(patch),
    );
  }
});

test('every problem is reported at once', () => {
  assert.throws(
    () => resolveTransparentConfig({ proxyUid: 0, inboundPorts: ['x'], excludeOutboundCidrs: ['nope'], excludeOutboundDestinations: [{ address: 'nope', port: 1 }] }),
    (error: unknown) => error instanceof MeshError && /--proxy-uid/.test(error.message) && /--inbound-port/.test(error.message) && /--exclude-outbound-cidr/.test(error.message) && /--exclude-outbound-destination/.test(error.message),
  );
});
