// Upstream resolver addresses: "host" or "host:port", IPv6 in brackets when a
// port is given ("[::1]:5353") or bare without one ("::1"). Only IP literals:
// resolving a resolver's name would itself need DNS, which is what we serve.

import { isIP } from 'node:net';
import { MeshError } from '../lib/errors.ts';
import { isLoopbackIp, joinHostPort, parseHostPort } from '../lib/net/host-port.ts';

export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export const DNS_PORT = 53;

export function parseUpstream(text: string): Upstream {
  const parsed = parseHostPort(text.trim(), { hosts: 'ip', minPort: 1, defaultPort: DNS_PORT });
  if (!parsed.ok) throw new MeshError('MESH_E_BAD_REQUEST', `upstream resolver "${text}": ${parsed.reason} (give the resolver as an IP, optionally with :port)`);
  const { host, port } = parsed.value;
  return { host, port, family: isIP(host) === 6 ? 6 : 4 };
}

export function formatUpstream(upstream: { host: string; port: number }): string {
  return joinHostPort(upstream.host, upstream.port);
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/**
 * Whether sending to upstream would reach our own listener: the same port on
 * the same address, on a wildcard we listen on, or on loopback when we listen
 * on a wildcard. Such an upstream would make every forwarded query loop.
 */
export function isSelf(upstream: Upstream, listen: { host: string; port: number }): boolean {
  if (upstream.port !== listen.port) return false;
  if (upstream.host === listen.host || WILDCARDS.has(upstream.host)) return true;
  if (!WILDCARDS.has(listen.host)) return false;
  return isLoopbackIp(upstream.host);
}
