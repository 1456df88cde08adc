// /etc/resolv.conf, parsed the way glibc reads it. The agent reads it once at
// start: those are the host's original resolvers, where every name outside the
// mesh is forwarded (iptables then sends the host's port-53 traffic to us, but
// not the agent's own, so forwarding there does not loop).

import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
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
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return parseResolvConf(text);
}
