// Transparent proxying's settings: what the operator (or join) gives, checked
// once and resolved into a frozen TransparentConfig that the pure rule
// builder (rules.ts) turns into iptables-restore text. Every problem is
// reported at once, each naming the flag and the value.

import { isIPv4, isIPv6 } from 'node:net';
import { MeshError } from '../lib/errors.ts';

export const DEFAULT_PROXY_USER = 'meshctl-proxy';
export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_INBOUND_PORT = 15006;
export const DEFAULT_DNS_PORT = 15053;
/** The agent's admin API and metrics ports (DESIGN.md, "Ports"). */
export const AGENT_ADMIN_PORT = 15000;
export const AGENT_METRICS_PORT = 15090;
/** SSH: never redirected, so a bad rule set cannot lock the operator out. */
export const SSH_PORT = 22;
/** The mesh's virtual IPs (v4): always sent to the proxy; nothing else answers there. */
export const DEFAULT_MESH_VIP_CIDRS: readonly string[] = ['240.0.0.0/4'];

export interface TransparentInput {
  /** The uid the agent and its proxy run as; its own traffic is never redirected. */
  proxyUid: number | string;
  outboundPort?: number | string;
  inboundPort?: number | string;
  dnsPort?: number | string;
  redirectDns?: boolean;
  /** The meshed service ports on this host (--inbound-port). */
  inboundPorts?: readonly (number | string)[];
  /** Added to 22 and the agent's own ports (--exclude-inbound-port). */
  excludeInboundPorts?: readonly (number | string)[];
  excludeOutboundPorts?: readonly (number | string)[];
  /** Mixed IPv4 and IPv6 CIDRs (or bare addresses); each family's rules take their own. */
  excludeOutboundCidrs?: readonly string[];
  /** Destinations always redirected, before any exclusion. Default 240.0.0.0/4. */
  meshVipCidrs?: readonly string[];
}

export interface TransparentConfig {
  readonly proxyUid: number;
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly dnsPort: number;
  readonly redirectDns: boolean;
  readonly inboundPorts: readonly number[];
  /** Sorted; always holds 22, 15000, 15090 and the outbound, inbound and DNS ports. */
  readonly excludeInboundPorts: readonly number[];
  readonly excludeOutboundPorts: readonly number[];
  /** Normalised to the network address (10.1.2.3/8 → 10.0.0.0/8), v4 first. */
  readonly excludeOutboundCidrs: readonly string[];
  readonly meshVipCidrs: readonly string[];
}

const FLAGS = {
  proxyUid: '--proxy-uid',
  outboundPort: '--outbound-port',
  inboundPort: '--inbound-listener-port',
  dnsPort: '--dns-port',
  inboundPorts: '--inbound-port',
  excludeInboundPorts: '--exclude-inbound-port',
  excludeOutboundPorts: '--exclude-outbound-port',
  excludeOutboundCidrs: '--exclude-outbound-cidr',
  meshVipCidrs: '--mesh-vip-cidr',
} as const;

export function resolveTransparentConfig(input: TransparentInput): TransparentConfig {
  const problems: string[] = [];
  const port = (field: keyof typeof FLAGS, value: number | string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const n = parsePort(value);
    if (n === undefined) problems.push(`${FLAGS[field]} ${JSON.stringify(String(value))} is not a TCP port (give 1-65535)`);
    return n ?? fallback;
  };
  const portList = (field: keyof typeof FLAGS, values: readonly (number | string)[] | undefined): number[] => {
    const out: number[] = [];
    for (const value of values ?? []) {
      const n = parsePort(value);
      if (n === undefined) problems.push(`${FLAGS[field]} ${JSON.stringify(String(value))} is not a TCP port (give 1-65535)`);
      else if (out.includes(n)) problems.push(`${FLAGS[field]} ${n} is given twice (give each port once)`);
      else out.push(n);
    }
    return out;
  };
  const cidrList = (field: keyof typeof FLAGS, values: readonly string[] | undefined): string[] => {
    const out: string[] = [];
    for (const value of values ?? []) {
      const cidr = normaliseCidr(value);
      if (cidr === undefined) problems.push(`${FLAGS[field]} ${JSON.stringify(value)} is not a CIDR (give e.g. 10.0.0.0/8 or fd00::/8)`);
      else if (out.includes(cidr)) problems.push(`${FLAGS[field]} ${value} is given twice (as ${cidr}; give each CIDR once)`);
      else out.push(cidr);
    }
    return out.sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
  };

  const proxyUid = parseUid(input.proxyUid);
  if (proxyUid === undefined) problems.push(`${FLAGS.proxyUid} ${JSON.stringify(String(input.proxyUid))} is not a uid (give a number from 1 to 4294967294)`);
  else if (proxyUid === 0) problems.push(`${FLAGS.proxyUid} 0 is root: every root process would bypass the mesh (run the proxy as a dedicated user, e.g. ${DEFAULT_PROXY_USER})`);
  const outboundPort = port('outboundPort', input.outboundPort, DEFAULT_OUTBOUND_PORT);
  const inboundPort = port('inboundPort', input.inboundPort, DEFAULT_INBOUND_PORT);
  const dnsPort = port('dnsPort', input.dnsPort, DEFAULT_DNS_PORT);
  const inboundPorts = portList('inboundPorts', input.inboundPorts);
  const userExcluded = portList('excludeInboundPorts', input.excludeInboundPorts);
  const excludeInboundPorts = [...new Set([SSH_PORT, AGENT_ADMIN_PORT, outboundPort, inboundPort, dnsPort, AGENT_METRICS_PORT, ...userExcluded])].sort((a, b) => a - b);
  for (const p of inboundPorts) {
    if (excludeInboundPorts.includes(p)) problems.push(`${FLAGS.inboundPorts} ${p} is also an excluded inbound port (22 and the agent's own ports are never redirected; drop one of the two)`);
  }
  const excludeOutboundPorts = portList('excludeOutboundPorts', input.excludeOutboundPorts);
  const excludeOutboundCidrs = cidrList('excludeOutboundCidrs', input.excludeOutboundCidrs);
  const meshVipCidrs = cidrList('meshVipCidrs', input.meshVipCidrs ?? DEFAULT_MESH_VIP_CIDRS);

  if (problems.length > 0) {
    throw new MeshError('MESH_E_USAGE', problems.join('; '), { hint: 'see meshctl iptables plan --help' });
  }
  return Object.freeze({
    proxyUid: proxyUid as number,
    outboundPort,
    inboundPort,
    dnsPort,
    redirectDns: input.redirectDns ?? false,
    inboundPorts: Object.freeze(inboundPorts),
    excludeInboundPorts: Object.freeze(excludeInboundPorts),
    excludeOutboundPorts: Object.freeze(excludeOutboundPorts),
    excludeOutboundCidrs: Object.freeze(excludeOutboundCidrs),
    meshVipCidrs: Object.freeze(meshVipCidrs),
  });
}

function parsePort(value: number | string): number | undefined {
  const n = typeof value === 'number' ? value : /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

function parseUid(value: number | string): number | undefined {
  const n = typeof value === 'number' ? value : /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  return Number.isInteger(n) && n >= 0 && n < 4294967295 ? n : undefined;
}

/** The family of a normalised CIDR. */
export function cidrFamily(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

/**
 * `10.1.2.3/8` → `10.0.0.0/8`, `10.1.2.3` → `10.1.2.3/32`, `fd00::1/8` →
 * `fd00::/8` (iptables stores the network address; so do we, so that
 * duplicates are caught and the plan reads like the ruleset).
 */
export function normaliseCidr(text: string): string | undefined {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  const value = family === 4 ? v4ToBigInt(address) : v6ToBigInt(address);
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  const network = value & mask;
  return `${family === 4 ? bigIntToV4(network) : bigIntToV6(network)}/${prefix}`;
}

function v4ToBigInt(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function bigIntToV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
}

function v6ToBigInt(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const n = v4ToBigInt(v4[1]);
    text = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** RFC 5952 text: lower case, the longest run of zero groups (two or more) as `::`. */
function bigIntToV6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt((7 - i) * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
