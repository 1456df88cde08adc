// join's address flags (--admin-addr, --inbound-addr, --advertise-addr),
// checked before join touches the host: a value the agent could not listen on
// or be reached at is a usage error naming the flag and the value, not an
// agent that starts, fails and leaves join waiting for it.

import { isIP } from 'node:net';
import { MeshError } from '../lib/errors.ts';
import { parseHostPort, type HostPort } from '../lib/net/host-port.ts';
import { LISTEN_ADDR } from '../agent/config/agent-config.ts';

/** HOST:PORT the agent listens on (LISTEN_ADDR: an IP, IPv6 in brackets, or localhost; 0 picks a free port), split. */
export function parseListenAddrFlag(text: string, flag: string, example: string): HostPort {
  const parsed = parseHostPort(text, LISTEN_ADDR);
  if (!parsed.ok) {
    throw new MeshError('MESH_E_USAGE', `${flag} "${text}" is not HOST:PORT: ${parsed.reason}`, { hint: `give an IP address and a port 0..65535, e.g. ${flag} ${example} (IPv6 in brackets: [::1]:PORT)` });
  }
  return parsed.value;
}

/** The same check, for join, which writes the text as given into agent.json. */
export function listenAddrFlag(text: string, flag: string, example: string): string {
  parseListenAddrFlag(text, flag, example);
  return text;
}

/** The address other hosts reach this one at: an IP, as the catalog and their proxies use it. */
export function advertiseAddrFlag(text: string): string {
  if (isIP(text) === 0) throw new MeshError('MESH_E_USAGE', `--advertise-addr "${text}" is not an IP address`, { hint: 'give the IP other hosts reach this one at, e.g. --advertise-addr 10.0.0.5, or leave it out to use the one that routes to the server' });
  return text;
}
