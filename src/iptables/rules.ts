// The pure rule builder: a TransparentConfig in, iptables-restore text out
// (apply.ts is the only place that runs it). The scripts are meant for
// `iptables-restore --noflush`: they add meshctl's MESH_* chains and the
// jumps into them and leave everything else alone. Every rule, including the
// jumps in the built-in chains, carries `-m comment --comment meshctl:<tag>`,
// which is how removal finds exactly what meshctl added.
//
// nat PREROUTING (to a local address) ─▶ MESH_INBOUND ─(meshed service port)─▶ MESH_INBOUND_REDIRECT ─▶ :15006
// nat OUTPUT ─▶ MESH_OUTPUT ─(proxy's own uid, loopback, exclusions: RETURN)
//                  ├─(dns, optional)─▶ MESH_DNS ─▶ :15053
//                  └─(tcp)─▶ MESH_OUTBOUND_REDIRECT ─▶ :15001

import { cidrFamily } from './cidr.ts';
import type { TransparentConfig } from './config.ts';

export { resolveTransparentConfig, type TransparentConfig, type TransparentInput } from './config.ts';

export const COMMENT_PREFIX = 'meshctl:';

/** Every chain meshctl creates, in the order the scripts declare them. */
export const MESH_CHAINS = {
  nat: ['MESH_INBOUND', 'MESH_INBOUND_REDIRECT', 'MESH_OUTPUT', 'MESH_DNS', 'MESH_OUTBOUND_REDIRECT'],
  filter: ['MESH_REFUSE_INBOUND', 'MESH_REFUSE_OUTPUT'],
} as const;

const LOOPBACK = { 4: '127.0.0.0/8', 6: '::1/128' } as const;

const tagged = (tag: string, rule: string): string => `${rule} -m comment --comment ${COMMENT_PREFIX}${tag}`;

/** The nat table script for one family. */
export function buildRules(config: TransparentConfig, family: 4 | 6): string {
  const chains: string[] = [];
  const jumps: string[] = [];
  const rules: string[] = [];
  const add = (chain: string, tag: string, match: string, target: string) => rules.push(`-A ${chain} ${tagged(tag, match)} -j ${target}`.replace(/ {2,}/g, ' '));

  // Inbound: only the meshed service ports are taken; the rest (22, the
  // agent's own ports, anything not meshed) reaches its listener untouched.
  if (config.inboundPorts.length > 0) {
    chains.push('MESH_INBOUND', 'MESH_INBOUND_REDIRECT');
    // Inserted first, not appended: a rule that other software put earlier
    // in PREROUTING (Docker's DNAT for published ports, say) would otherwise
    // take meshed traffic around the proxy (istio#29518). Only connections
    // addressed to this host: traffic routed through it (containers' egress
    // via FORWARD, calling another host's 8080) passes PREROUTING too, and
    // must leave as it came.
    jumps.push(`-I PREROUTING 1 ${tagged('inbound', '-p tcp -m addrtype --dst-type LOCAL')} -j MESH_INBOUND`);
    for (const port of config.excludeInboundPorts) add('MESH_INBOUND', 'exclude-inbound-port', `-p tcp --dport ${port}`, 'RETURN');
    for (const port of config.inboundPorts) add('MESH_INBOUND', 'inbound-port', `-p tcp --dport ${port}`, 'MESH_INBOUND_REDIRECT');
    add('MESH_INBOUND_REDIRECT', 'inbound-redirect', '-p tcp', `REDIRECT --to-ports ${config.inboundPort}`);
  }

  chains.push('MESH_OUTPUT');
  if (config.redirectDns) chains.push('MESH_DNS');
  chains.push('MESH_OUTBOUND_REDIRECT');
  jumps.push(`-I OUTPUT 1 ${tagged('output', '')} -j MESH_OUTPUT`.replace(/ {2,}/g, ' '));
  // The proxy's own traffic first, before anything is redirected: its
  // upstream connections (and the agent's, as the same user) must leave as
  // they are, or they would loop back into the proxy. That includes DNS: the
  // agent's resolver forwards unknown names to the real nameservers on port
  // 53 as this user, so the DNS redirect below must come after this RETURN,
  // or every forwarded query would come straight back to the agent. (The
  // agent must forward to the upstream servers themselves, not to a local
  // stub such as 127.0.0.53, whose own queries would be redirected again.)
  add('MESH_OUTPUT', 'proxy-uid', `-m owner --uid-owner ${config.proxyUid}`, 'RETURN');
  // DNS before the loopback RETURN: resolv.conf often names a local stub
  // (127.0.0.53), and those queries are the ones to capture.
  if (config.redirectDns) {
    add('MESH_OUTPUT', 'dns', '-p udp --dport 53', 'MESH_DNS');
    add('MESH_OUTPUT', 'dns', '-p tcp --dport 53', 'MESH_DNS');
    add('MESH_DNS', 'dns-redirect', '-p udp', `REDIRECT --to-ports ${config.dnsPort}`);
    add('MESH_DNS', 'dns-redirect', '-p tcp', `REDIRECT --to-ports ${config.dnsPort}`);
  }
  // Virtual IPs before the exclusions: only the proxy answers on them, so an
  // excluded port or a wide excluded CIDR must not send them nowhere.
  for (const cidr of config.meshVipCidrs.filter((c) => cidrFamily(c) === family)) add('MESH_OUTPUT', 'vip', `-d ${cidr} -p tcp`, 'MESH_OUTBOUND_REDIRECT');
  // An app calling a local service over loopback stays direct.
  add('MESH_OUTPUT', 'loopback', `-d ${LOOPBACK[family]}`, 'RETURN');
  for (const port of config.excludeOutboundPorts) add('MESH_OUTPUT', 'exclude-outbound-port', `-p tcp --dport ${port}`, 'RETURN');
  for (const cidr of config.excludeOutboundCidrs.filter((c) => cidrFamily(c) === family)) add('MESH_OUTPUT', 'exclude-outbound-cidr', `-d ${cidr}`, 'RETURN');
  for (const { address, port } of config.excludeOutboundDestinations.filter((d) => cidrFamily(d.address) === family)) {
    add('MESH_OUTPUT', 'exclude-outbound-destination', `-d ${address} -p tcp --dport ${port}`, 'RETURN');
  }
  add('MESH_OUTPUT', 'outbound', '-p tcp', 'MESH_OUTBOUND_REDIRECT');
  add('MESH_OUTBOUND_REDIRECT', 'outbound-redirect', '-p tcp', `REDIRECT --to-ports ${config.outboundPort}`);

  return script('nat', chains, [...rules, ...jumps]);
}

/**
 * For a host whose ip6tables nat table is unusable: a filter table script
 * that refuses, with a TCP reset, the IPv6 connections the mesh would have
 * taken (apps, not the proxy's uid, to anywhere but loopback and the
 * excluded ports, CIDRs and destinations; and any IPv6 connection to a meshed service
 * port from outside), so meshed traffic is refused rather than let around
 * the mesh.
 */
export function buildRefuseIpv6(config: TransparentConfig): string {
  const chains: string[] = ['MESH_REFUSE_OUTPUT'];
  const jumps: string[] = [];
  const rules: string[] = [];
  const add = (chain: string, tag: string, match: string, target: string) => rules.push(`-A ${chain} ${tagged(tag, match)} -j ${target}`.replace(/ {2,}/g, ' '));
  const reject = 'REJECT --reject-with tcp-reset';

  if (config.inboundPorts.length > 0) {
    chains.unshift('MESH_REFUSE_INBOUND');
    jumps.push(`-I INPUT 1 ${tagged('refuse-inbound', '-p tcp')} -j MESH_REFUSE_INBOUND`);
    add('MESH_REFUSE_INBOUND', 'loopback', '-i lo', 'RETURN');
    for (const port of config.inboundPorts) add('MESH_REFUSE_INBOUND', 'refuse-inbound-port', `-p tcp --dport ${port}`, reject);
  }
  jumps.push(`-I OUTPUT 1 ${tagged('refuse-output', '-p tcp')} -j MESH_REFUSE_OUTPUT`);
  add('MESH_REFUSE_OUTPUT', 'proxy-uid', `-m owner --uid-owner ${config.proxyUid}`, 'RETURN');
  add('MESH_REFUSE_OUTPUT', 'loopback', `-d ${LOOPBACK[6]}`, 'RETURN');
  // Replies from local listeners (sshd on 22, say) pass through OUTPUT too:
  // only new connections are refused.
  add('MESH_REFUSE_OUTPUT', 'established', '-m conntrack --ctstate RELATED,ESTABLISHED', 'RETURN');
  for (const port of config.excludeOutboundPorts) add('MESH_REFUSE_OUTPUT', 'exclude-outbound-port', `-p tcp --dport ${port}`, 'RETURN');
  for (const cidr of config.excludeOutboundCidrs.filter((c) => cidrFamily(c) === 6)) add('MESH_REFUSE_OUTPUT', 'exclude-outbound-cidr', `-d ${cidr}`, 'RETURN');
  for (const { address, port } of config.excludeOutboundDestinations.filter((d) => cidrFamily(d.address) === 6)) {
    add('MESH_REFUSE_OUTPUT', 'exclude-outbound-destination', `-d ${address} -p tcp --dport ${port}`, 'RETURN');
  }
  add('MESH_REFUSE_OUTPUT', 'refuse-outbound', '-p tcp', reject);

  return script('filter', chains, [...rules, ...jumps]);
}

function script(table: string, chains: readonly string[], lines: readonly string[]): string {
  return [`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...lines, 'COMMIT', ''].join('\n');
}
