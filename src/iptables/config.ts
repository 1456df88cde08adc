// Transparent proxying's settings: what the operator (or join) gives, checked
// once and resolved into a frozen TransparentConfig that the pure rule
// builder (rules.ts) turns into iptables-restore text. Every problem is
// reported at once, each naming the flag and the value.

import { isIP } from 'node:net';
import { MeshError } from '../lib/errors.ts';
import { parsePort as portOf } from '../lib/net/host-port.ts';
import { normaliseCidr } from './cidr.ts';

export const DEFAULT_PROXY_USER = 'meshctl-proxy';
export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_INBOUND_PORT = 15006;
export const DEFAULT_DNS_PORT = 15053;
/** The agent's admin API and metrics ports (DESIGN.md, "Ports"). */
export const AGENT_ADMIN_PORT = 15000;
import { DEFAULT_METRICS_PORT } from '../config/agent-service.ts';
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
  /** The agent's metrics port, never redirected (0, a port picked at start, cannot be named: the default is kept out). */
  metricsPort?: number;
  /** The agent's admin port, never redirected (0 or absent: the default is kept out). */
  adminPort?: number;
  redirectDns?: boolean;
  /** The meshed service ports on this host (--inbound-port). */
  inboundPorts?: readonly (number | string)[];
  /** Added to 22 and the agent's own ports (--exclude-inbound-port). */
  excludeInboundPorts?: readonly (number | string)[];
  excludeOutboundPorts?: readonly (number | string)[];
  /** Mixed IPv4 and IPv6 CIDRs (or bare addresses); each family's rules take their own. */
  excludeOutboundCidrs?: readonly string[];
  /**
   * Single host:port destinations never redirected (--exclude-outbound-destination),
   * e.g. the meshctl server the agent talks to, without excluding the whole host.
   * The address is an IPv4 or IPv6 literal; each family's rules take their own.
   */
  excludeOutboundDestinations?: readonly { address: string; port: number | string }[];
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
  /** Addresses normalised to a host CIDR (/32 or /128), v4 first, in the order given within a family. */
  readonly excludeOutboundDestinations: readonly { readonly address: string; readonly port: number }[];
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
  excludeOutboundDestinations: '--exclude-outbound-destination',
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

  const destinationList = (values: TransparentInput['excludeOutboundDestinations']): { address: string; port: number }[] => {
    const flag = FLAGS.excludeOutboundDestinations;
    const out: { address: string; port: number }[] = [];
    for (const value of values ?? []) {
      const shown = `${String(value?.address)}:${String(value?.port)}`;
      const address = typeof value?.address === 'string' && isIP(value.address.trim()) !== 0 ? normaliseCidr(value.address) : undefined;
      const n = value?.port === undefined ? undefined : parsePort(value.port);
      if (address === undefined) problems.push(`${flag} ${JSON.stringify(shown)}: ${JSON.stringify(String(value?.address))} is not an IP address (give e.g. 10.0.0.5:8300 or [fd00::5]:8300)`);
      else if (n === undefined) problems.push(`${flag} ${JSON.stringify(shown)}: ${JSON.stringify(String(value?.port))} is not a TCP port (give 1-65535)`);
      else if (out.some((d) => d.address === address && d.port === n)) problems.push(`${flag} ${shown} is given twice (give each destination once)`);
      else out.push({ address, port: n });
    }
    return out.sort((a, b) => Number(a.address.includes(':')) - Number(b.address.includes(':')));
  };

  const proxyUid = parseUid(input.proxyUid);
  if (proxyUid === undefined) problems.push(`${FLAGS.proxyUid} ${JSON.stringify(String(input.proxyUid))} is not a uid (give a number from 1 to 4294967294)`);
  else if (proxyUid === 0) problems.push(`${FLAGS.proxyUid} 0 is root: every root process would bypass the mesh (run the proxy as a dedicated user, e.g. ${DEFAULT_PROXY_USER})`);
  const outboundPort = port('outboundPort', input.outboundPort, DEFAULT_OUTBOUND_PORT);
  const inboundPort = port('inboundPort', input.inboundPort, DEFAULT_INBOUND_PORT);
  const dnsPort = port('dnsPort', input.dnsPort, DEFAULT_DNS_PORT);
  const inboundPorts = portList('inboundPorts', input.inboundPorts);
  const userExcluded = portList('excludeInboundPorts', input.excludeInboundPorts);
  const excludeInboundPorts = [...new Set([SSH_PORT, input.adminPort || AGENT_ADMIN_PORT, outboundPort, inboundPort, dnsPort, input.metricsPort || DEFAULT_METRICS_PORT, ...userExcluded])].sort((a, b) => a - b);
  for (const p of inboundPorts) {
    if (excludeInboundPorts.includes(p)) problems.push(`${FLAGS.inboundPorts} ${p} is also an excluded inbound port (22 and the agent's own ports are never redirected; drop one of the two)`);
  }
  const excludeOutboundPorts = portList('excludeOutboundPorts', input.excludeOutboundPorts);
  const excludeOutboundCidrs = cidrList('excludeOutboundCidrs', input.excludeOutboundCidrs);
  const excludeOutboundDestinations = destinationList(input.excludeOutboundDestinations);
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
    excludeOutboundDestinations: Object.freeze(excludeOutboundDestinations.map((d) => Object.freeze(d))),
    meshVipCidrs: Object.freeze(meshVipCidrs),
  });
}

function parsePort(value: number | string): number | undefined {
  // A number from the agent's config or a flag's text: either way as its digits ("80.5" and "-1" are no ports).
  const port = portOf(String(value).trim(), 1);
  return port.ok ? port.value : undefined;
}

function parseUid(value: number | string): number | undefined {
  const n = typeof value === 'number' ? value : /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  return Number.isInteger(n) && n >= 0 && n < 4294967295 ? n : undefined;
}
