// HOST:PORT, read and written in one place. Flags, agent.json, health checks,
// resolver addresses and the server's listen addresses all parse it here, so
// they accept the same texts and refuse the others for the same stated
// reason, which each caller wraps in its own error naming the flag or field.
// Pure: no lookups (a name stays a name; the caller resolves it if it may).

import { isIP } from 'node:net';

export interface HostPort {
  /** Without brackets: "::1", not "[::1]". */
  readonly host: string;
  readonly port: number;
}

/** A value, or why the text is not one (a phrase a caller appends after "is not HOST:PORT: "). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export interface HostPortRules {
  /**
   * Which hosts pass: 'ip' an IP literal; 'listen' an IP or localhost (what a
   * listener binds without a lookup); 'name' an IP or a DNS name.
   */
  readonly hosts: 'ip' | 'listen' | 'name';
  /** 0 only where the caller means "any free port" (the kernel picks one). */
  readonly minPort: 0 | 1;
  /** The port when the text has none ("10.0.0.2", "[::1]", or a bare "::1"); absent: the port is required. */
  readonly defaultPort?: number;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const refused = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** A port number's text: decimal digits, from minPort to 65535. */
export function parsePort(text: string, minPort: 0 | 1): Parsed<number> {
  if (!/^\d+$/.test(text)) return refused(`the port "${text}" is not a number`);
  const port = Number(text);
  if (port < minPort || port > 65535) return refused(`the port ${port} is outside ${minPort}..65535`);
  return ok(port);
}

interface Split {
  readonly host: string;
  /** undefined when the text has no port. */
  readonly port: string | undefined;
  readonly bracketed: boolean;
}

/**
 * The syntax alone: "[v6]:port", "host:port", and (port left out) "[v6]",
 * "host" or a bare IPv6 address. Hosts and ports are not checked here.
 */
export function splitHostPort(text: string): Parsed<Split> {
  if (text === '') return refused('it is empty');
  if (/\s/.test(text)) return refused('it contains a space');
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return refused('the "[" has no closing "]"');
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return refused('only ":PORT" may follow "]"');
    return ok({ host: text.slice(1, close), port: rest === '' ? undefined : rest.slice(1), bracketed: true });
  }
  const colon = text.indexOf(':');
  if (colon === -1) return ok({ host: text, port: undefined, bracketed: false });
  // Several colons without brackets: an IPv6 address with no port, or one whose port cannot be told apart.
  if (text.indexOf(':', colon + 1) !== -1) return isIP(text) === 6 ? ok({ host: text, port: undefined, bracketed: false }) : refused('an IPv6 address goes in brackets, as [::1]:PORT');
  return ok({ host: text.slice(0, colon), port: text.slice(colon + 1), bracketed: false });
}

// Letters, digits, '-' and '_' in dot-separated labels of at most 63, 253 in all (RFC 1123, with the '_' of service names).
const NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function hostReason(host: string, hosts: HostPortRules['hosts']): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (hosts === 'listen' && host === 'localhost') return undefined;
  // "999.1.1.1" would pass as a name: all digits and dots is a mistyped IP, not a host name.
  if (hosts === 'name' && !/^[\d.]+$/.test(host) && NAME.test(host)) return undefined;
  const wanted = { ip: 'an IP address', listen: 'an IP address or localhost', name: 'a host name or IP address' }[hosts];
  return `the host "${host}" is not ${wanted}`;
}

/** The reason when a port is required and missing (also for callers that split only). */
export const NO_PORT = 'there is no port';

/** HOST:PORT by the caller's rules; the reason says which part is wrong and how. */
export function parseHostPort(text: string, rules: HostPortRules): Parsed<HostPort> {
  const split = splitHostPort(text);
  if (!split.ok) return split;
  const { host, port: portText, bracketed } = split.value;
  if (host === '') return refused('the host is empty');
  if (portText === undefined && rules.defaultPort === undefined && isIP(host) !== 6) return refused(NO_PORT);
  if (bracketed) {
    if (isIP(host) !== 6) return refused(`"${host}" in brackets is not an IPv6 address (only IPv6 goes in brackets)`);
  } else if (isIP(host) === 6 && rules.defaultPort === undefined) {
    // A bare IPv6 address where a port is required: its last group may have been meant as the port.
    return refused('an IPv6 address goes in brackets, as [::1]:PORT');
  } else {
    const why = hostReason(host, rules.hosts);
    if (why !== undefined) return refused(why);
  }
  if (portText === undefined) return rules.defaultPort === undefined ? refused(NO_PORT) : ok({ host, port: rules.defaultPort });
  const port = parsePort(portText, rules.minPort);
  return port.ok ? ok({ host, port: port.value }) : port;
}

/**
 * For texts a schema has already checked with these rules (agent.json): the
 * parts, or an Error that would mean a caller skipped the check.
 */
export function hostPortOf(text: string, rules: HostPortRules): HostPort {
  const parsed = parseHostPort(text, rules);
  if (!parsed.ok) throw new Error(`"${text}" is not HOST:PORT: ${parsed.reason}`);
  return parsed.value;
}

/** host:port, an IPv6 host in brackets (any host with a colon, zone included, as Go's JoinHostPort does). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An IP on this host's loopback: 127.0.0.0/8 or ::1 (never a name that merely starts with "127."). */
export function isLoopbackIp(host: string): boolean {
  return (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}

/** A URL that points at this host: a loopback IP or the name localhost. */
export function isLoopbackUrl(url: string): boolean {
  const host = unbracket(new URL(url).hostname);
  return host === 'localhost' || isLoopbackIp(host);
}

/** A URL's host (unbracketed) and port, its scheme's default port when it gives none. */
export function urlHostPort(url: URL): HostPort {
  return { host: unbracket(url.hostname), port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}

/** A URL's hostname as sockets and isIP take it: "[::1]" becomes "::1". */
export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}
