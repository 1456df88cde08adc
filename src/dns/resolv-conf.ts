// /etc/resolv.conf, parsed the way glibc reads it. The agent reads it once at
// start: those are the host's original resolvers, where every name outside the
// mesh is forwarded (iptables then sends the host's port-53 traffic to us, but
// not the agent's own, so forwarding there does not loop).
//
// Except to a local stub (systemd-resolved on 127.0.0.53, dnsmasq on
// 127.0.0.1): the stub's own upstream queries are not the agent's and would
// be redirected back to it. upstreamResolvers() therefore looks past
// systemd-resolved's stub to the upstreams it uses.

import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isLoopbackIp, parseHostPort } from '../lib/net/host-port.ts';
import { formatUpstream, DNS_PORT } from './upstream.ts';

export interface ResolvConf {
  /** "host:port" (IPv6 in brackets), port 53, in file order. */
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  /** `options ndots:2 rotate` → { ndots: '2', rotate: true }. */
  readonly options: Readonly<Record<string, string | true>>;
}

// glibc uses the first three nameservers and ignores the rest.
const MAX_NAMESERVERS = 3;
// With no nameserver line glibc queries the local host.
const DEFAULT_NAMESERVER = '127.0.0.1';

export const RESOLV_CONF_PATH = '/etc/resolv.conf';
/** systemd-resolved's own upstream servers, in resolv.conf form. */
export const SYSTEMD_RESOLV_CONF_PATH = '/run/systemd/resolve/resolv.conf';

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  const options: Record<string, string | true> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...args] = line.split(/\s+/);
    switch (keyword) {
      case 'nameserver': {
        // A link-local IPv6 server carries its zone ("fe80::1%eth0").
        const address = args[0];
        if (address !== undefined && isIP(address.split('%')[0]!) !== 0 && nameservers.length < MAX_NAMESERVERS) {
          nameservers.push(formatUpstream({ host: address, port: DNS_PORT }));
        }
        break;
      }
      // The last of `domain` and `search` wins, as in glibc.
      case 'domain':
        search = args.slice(0, 1);
        break;
      case 'search':
        search = args.filter((d) => d !== '.');
        break;
      case 'options':
        for (const option of args) {
          const colon = option.indexOf(':');
          if (colon === -1) options[option] = true;
          else options[option.slice(0, colon)] = option.slice(colon + 1);
        }
        break;
      default:
        break; // sortlist and unknown keywords do not affect where we forward
    }
  }
  if (nameservers.length === 0) nameservers.push(formatUpstream({ host: DEFAULT_NAMESERVER, port: DNS_PORT }));
  return { nameservers, search, options };
}

/** Reads and parses resolv.conf; a missing file means glibc's defaults. */
export async function readResolvConf(path: string = RESOLV_CONF_PATH): Promise<ResolvConf> {
  return parseResolvConf((await readOptional(path)) ?? '');
}

/** Whether a "host:port" nameserver is on this host's loopback (127.0.0.0/8 or ::1). */
export function isLoopbackNameserver(nameserver: string): boolean {
  const parsed = parseHostPort(nameserver, { hosts: 'ip', minPort: 1, defaultPort: DNS_PORT });
  return parsed.ok && isLoopbackIp(parsed.value.host);
}

/**
 * Where the agent forwards names outside the mesh, from the texts of
 * /etc/resolv.conf and (undefined when absent) systemd-resolved's
 * /run/systemd/resolve/resolv.conf: resolv.conf's nameservers, unless every
 * one is on loopback and systemd-resolved's file names a server that is not,
 * in which case that file's nameservers. Otherwise the loopback ones are
 * returned as they are (the README says what a local stub then needs).
 */
export function chooseUpstreams(resolvConf: string, systemdResolvConf: string | undefined): string[] {
  const primary = parseResolvConf(resolvConf).nameservers;
  if (!primary.every(isLoopbackNameserver) || systemdResolvConf === undefined) return [...primary];
  const systemd = parseResolvConf(systemdResolvConf).nameservers;
  return systemd.some((n) => !isLoopbackNameserver(n)) ? [...systemd] : [...primary];
}

/** The host's upstream resolvers as "host:port" (see chooseUpstreams), read from the two files. */
export async function upstreamResolvers(paths: { resolvConf?: string; systemdResolvConf?: string } = {}): Promise<string[]> {
  const resolvConf = (await readOptional(paths.resolvConf ?? RESOLV_CONF_PATH)) ?? '';
  const primary = parseResolvConf(resolvConf).nameservers;
  // Read systemd-resolved's file only when it could matter.
  const systemd = primary.every(isLoopbackNameserver) ? await readOptional(paths.systemdResolvConf ?? SYSTEMD_RESOLV_CONF_PATH) : undefined;
  return chooseUpstreams(resolvConf, systemd);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return undefined;
  }
}
