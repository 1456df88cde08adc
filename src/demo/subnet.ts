// Picking the demo's private /24: pure, given the machine's addresses and
// routes (read by hosts-netns.ts) and a random source. The /24 must overlap
// nothing the machine already uses, so the demo can neither shadow a real
// network nor be reached through one.

import type { Random } from '../lib/clock.ts';

export interface Cidr {
  base: number;
  length: number;
}

export function parseCidr(text: string, defaultLength = 32): Cidr | undefined {
  const [address, lengthText] = text.split('/');
  const parts = (address ?? '').split('.').map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
  if (parts.length !== 4 || parts.some((part) => !(part >= 0 && part <= 255))) return undefined;
  const length = lengthText === undefined ? defaultLength : Number(lengthText);
  if (!Number.isInteger(length) || length < 0 || length > 32) return undefined;
  const base = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  return { base, length };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const length = Math.min(a.length, b.length);
  if (length === 0) return true;
  const mask = length >= 32 ? 0xffffffff : ~(0xffffffff >>> length) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

const int = (random: Random, low: number, high: number): number => low + Math.floor(random() * (high - low));

/**
 * A free 10.200-250.x.0/24 (after 100 misses, 172.16-31.x.0/24), or
 * undefined when 200 candidates all overlap something in `used`.
 */
export function pickSubnet(used: readonly Cidr[], random: Random): string | undefined {
  for (let attempt = 0; attempt < 200; attempt++) {
    const candidate = attempt < 100 ? `10.${int(random, 200, 251)}.${int(random, 0, 256)}.0/24` : `172.${int(random, 16, 32)}.${int(random, 0, 256)}.0/24`;
    const cidr = parseCidr(candidate)!;
    if (!used.some((network) => overlaps(network, cidr))) return candidate;
  }
  return undefined;
}

/** The address of host `index` (0-based) in a /24: .1, .2, …; the gateway (the server's side) is .254. */
export function hostAddress(subnet: string, index: number): string {
  return subnet.replace(/\.0\/24$/, `.${index + 1}`);
}

export function gatewayAddress(subnet: string): string {
  return subnet.replace(/\.0\/24$/, '.254');
}
