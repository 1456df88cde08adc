// The pure decision for one query: answer it from the mesh's records, or
// leave it to the upstream resolvers. The mesh zones are `mesh.` and
// `service.consul.` (for Consul habits); inside them we are authoritative, so
// nothing under them is ever forwarded.

import type { Packet, Question, Answer } from 'dns-packet';

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;

const FLAG_AA = 1 << 10;
const FLAG_RD = 1 << 8;
const FLAG_RA = 1 << 7;
const OPCODE_MASK = 0xf << 11;

const ZONES = ['mesh', 'service.consul'] as const;

/** A service name (lowercase) → its virtual IPv4. */
export type MeshRecords = ReadonlyMap<string, string>;

export interface MeshName {
  /** The zone as the question spelled it, for the SOA's owner name. */
  readonly zone: string;
  /** The labels before the zone, lowercased; '' for the zone apex. */
  readonly service: string;
}

/** Splits a name into mesh zone and service, case-insensitively; undefined outside the mesh zones. */
export function meshName(name: string): MeshName | undefined {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const lower = trimmed.toLowerCase();
  for (const zone of ZONES) {
    if (lower === zone) return { zone: trimmed, service: '' };
    if (lower.endsWith(`.${zone}`)) {
      return { zone: trimmed.slice(-zone.length), service: lower.slice(0, -zone.length - 1) };
    }
  }
  return undefined;
}

/** A response header for query: same ID and question, RD copied, RA set (we recurse by forwarding). */
export function responseTo(query: Packet, rcode: number, extra: Partial<Packet> = {}, authoritative = false): Packet {
  const flags = ((query.flags ?? 0) & FLAG_RD) | FLAG_RA | (authoritative ? FLAG_AA : 0) | rcode;
  return { type: 'response', id: query.id ?? 0, flags, questions: query.questions ?? [], ...extra };
}

function soa(zone: string, ttl: number): Answer {
  return {
    type: 'SOA',
    name: zone,
    ttl,
    data: { mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: ttl },
  };
}

export type Decision =
  | { readonly kind: 'answer'; readonly response: Packet }
  | { readonly kind: 'forward' };

/**
 * What to do with one decoded query. The caller has checked that it is a
 * query with exactly one question.
 */
export function decide(query: Packet, records: MeshRecords, ttlSeconds: number): Decision {
  if (((query.flags ?? 0) & OPCODE_MASK) !== 0) return { kind: 'answer', response: responseTo(query, RCODE_NOTIMP) };
  const question = query.questions![0] as Question;
  const name = meshName(question.name);
  if (!name) return { kind: 'forward' };
  const authority = { authorities: [soa(name.zone, ttlSeconds)] };
  if (question.class !== 'IN') return { kind: 'answer', response: responseTo(query, RCODE_NOTIMP) };
  if (name.service === '') {
    // The zone apex exists and holds only its SOA.
    const answer = question.type === 'SOA' ? { answers: [soa(question.name, ttlSeconds)] } : authority;
    return { kind: 'answer', response: responseTo(query, RCODE_NOERROR, answer, true) };
  }
  const vip = records.get(name.service);
  if (vip === undefined) return { kind: 'answer', response: responseTo(query, RCODE_NXDOMAIN, authority, true) };
  if (question.type !== 'A' && (question.type as string) !== 'ANY') {
    // NODATA: the name exists without this type, so clients asking AAAA first fall back to A.
    return { kind: 'answer', response: responseTo(query, RCODE_NOERROR, authority, true) };
  }
  const answers: Answer[] = [{ type: 'A', name: question.name, ttl: ttlSeconds, class: 'IN', data: vip }];
  return { kind: 'answer', response: responseTo(query, RCODE_NOERROR, { answers }, true) };
}
