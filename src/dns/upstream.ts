// Upstream resolver addresses: "host" or "host:port", IPv6 in brackets when a
// port is given ("[::1]:5353") or bare without one ("::1"). Only IP literals:
// resolving a resolver's name would itself need DNS, which is what we serve.

import { isIP } from 'node:net';
import { MeshError } from '../lib/errors.ts';

export interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export const DNS_PORT = 53;

export function parseUpstream(text: string): Upstream {
  const bad = (why: string) => new MeshError('MESH_E_BAD_REQUEST', `upstream resolver "${text}": ${why}`);
  let host = text.trim();
  let port = DNS_PORT;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(host) !== 6) {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) {
      if (!/^\d+$/.test(host.slice(colon + 1))) throw bad('the port is not a number');
      port = Number(host.slice(colon + 1));
      host = host.slice(0, colon);
    }
  }
  const family = isIP(host);
  if (family !== 4 && family !== 6) throw bad('not an IP address (give the resolver as an IP, optionally with :port)');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('the port is outside 1..65535');
  return { host, port, family };
}

export function formatUpstream(upstream: { host: string; port: number }): string {
  return isIP(upstream.host) === 6 ? `[${upstream.host}]:${upstream.port}` : `${upstream.host}:${upstream.port}`;
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
  return upstream.host.startsWith('127.') || upstream.host === '::1';
}
