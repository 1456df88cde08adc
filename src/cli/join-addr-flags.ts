// join's address flags (--admin-addr, --inbound-addr, --advertise-addr),
// checked before join touches the host: a value the agent could not listen on
// or be reached at is a usage error naming the flag and the value, not an
// agent that starts, fails and leaves join waiting for it.

import { isIP } from 'node:net';
import { MeshError } from '../lib/errors.ts';

/** HOST:PORT the agent listens on: an IP (IPv6 in brackets) or localhost, and a port 0..65535 (0 picks a free one). */
export function listenAddrFlag(text: string, flag: string, example: string): string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2] ?? '';
  const bracketed = match?.[1] !== undefined;
  const hostOk = bracketed ? isIP(host) === 6 : host === 'localhost' || isIP(host) === 4;
  if (!match || !hostOk || Number(match[3]) > 65535) {
    throw new MeshError('MESH_E_USAGE', `${flag} "${text}" is not HOST:PORT`, { hint: `give an IP address and a port 0..65535, e.g. ${flag} ${example} (IPv6 in brackets: [::1]:PORT)` });
  }
  return text;
}

/** The address other hosts reach this one at: an IP, as the catalog and their proxies use it. */
export function advertiseAddrFlag(text: string): string {
  if (isIP(text) === 0) throw new MeshError('MESH_E_USAGE', `--advertise-addr "${text}" is not an IP address`, { hint: 'give the IP other hosts reach this one at, e.g. --advertise-addr 10.0.0.5, or leave it out to use the one that routes to the server' });
  return text;
}
