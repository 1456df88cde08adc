// The mesh's virtual IPs. Every service gets one stable address from
// 240.0.0.0/4 (reserved "for future use", so never routed and never a real
// host's address); the control plane allocates an index per service and this
// file is the one mapping between an index and its address. Host parts .0 and
// .255 are skipped because some stacks and firewalls treat them as network or
// broadcast addresses even inside a /4.

const BASE = 240 << 24 >>> 0;
const HOSTS_PER_BLOCK = 254;
const BLOCKS = 1 << 20; // the /24 blocks in a /4
/** The largest index vipFromIndex accepts. */
export const MAX_VIP_INDEX = HOSTS_PER_BLOCK * BLOCKS;

/** Parses a dotted-quad IPv4 address to an unsigned 32-bit number; undefined when it is not one. */
export function parseIpv4(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    // No leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Whether ip is an IPv4 address in 240.0.0.0/4. */
export function isMeshVip(ip: string): boolean {
  const value = parseIpv4(ip);
  return value !== undefined && value >>> 28 === 0xf;
}

/** The n-th virtual IP (n ≥ 1): 1 → 240.0.0.1, 254 → 240.0.0.254, 255 → 240.0.1.1. */
export function vipFromIndex(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > MAX_VIP_INDEX) {
    throw new RangeError(`virtual IP index ${n} is outside 1..${MAX_VIP_INDEX}`);
  }
  const block = Math.floor((n - 1) / HOSTS_PER_BLOCK);
  const host = ((n - 1) % HOSTS_PER_BLOCK) + 1;
  return formatIpv4((BASE + block * 256 + host) >>> 0);
}

/** The index of a virtual IP (the inverse of vipFromIndex); undefined for anything vipFromIndex never returns. */
export function indexOfVip(ip: string): number | undefined {
  const value = parseIpv4(ip);
  if (value === undefined || value >>> 28 !== 0xf) return undefined;
  const host = value & 255;
  if (host === 0 || host === 255) return undefined;
  const block = (value - BASE) >>> 8;
  return block * HOSTS_PER_BLOCK + host;
}
