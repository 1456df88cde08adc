// The --service and --upstream flags of `meshctl join`, parsed into the same
// shapes a --services-file holds. Pure; errors name the flag, the bad part and
// the form that would work.
//
//   --service NAME=PORT[,id=ID][,check=SPEC][,interval=D][,timeout=D][,tags=a|b][,meta=k:v][,weight=N][,address=IP]
//   SPEC: http://127.0.0.1:8080/health | https://… | tcp:127.0.0.1:5432 | ttl:15s
//   --upstream NAME:LOCALPORT[,as=SERVICE]   (as: the local service whose identity calls go out with)

import { formatGoDuration, parseGoDuration } from '../../lib/duration.ts';
import { MeshError } from '../../lib/errors.ts';
import { parseHostPort, parsePort as portOf } from '../../lib/net/host-port.ts';
import { TCP_CHECK_ADDR } from '../../lib/probes.ts';

export type CheckSpec =
  | { kind: 'http'; url: string; intervalMs: number; timeoutMs: number }
  | { kind: 'tcp'; address: string; intervalMs: number; timeoutMs: number }
  | { kind: 'ttl'; ttlMs: number };

export interface ServiceSpec {
  /** The instance's ID on this node: the name, unless the host runs several instances of it. */
  id: string;
  name: string;
  port: number;
  /** '' means the node's address. */
  address: string;
  tags: string[];
  meta: Record<string, string>;
  weight: number;
  check?: CheckSpec | undefined;
}

export interface UpstreamSpec {
  name: string;
  localPort: number;
  /** The local service calling it; needed only when the host runs services of several names. */
  as?: string | undefined;
}

/** Consul's habits: checks every 10 s; an HTTP or TCP probe may take 5 s at most, and never longer than its interval. */
export const DEFAULT_CHECK_INTERVAL_MS = 10_000;
export const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

const NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?$/;
const SERVICE_FORM = 'NAME=PORT[,id=ID][,check=SPEC][,interval=10s][,timeout=5s][,tags=a|b][,meta=k:v][,weight=N]';

function usage(message: string, hint: string): MeshError {
  return new MeshError('MESH_E_USAGE', message, { hint });
}

export function parsePort(text: string, what: string, hint: string): number {
  const port = portOf(text, 1);
  if (!port.ok) throw usage(`${what}: "${text}" is not a port (1-65535)`, hint);
  return port.value;
}

function parseDuration(text: string, what: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms <= 0) throw usage(`${what}: "${text}" is not a duration`, 'use a duration such as 10s, 500ms or 1m');
  return ms;
}

export function validateName(name: string, what: string): string {
  if (!NAME.test(name)) {
    throw usage(`${what}: "${name}" is not a valid name`, 'use letters, digits and dashes, starting and ending with a letter or digit, at most 64 characters');
  }
  return name;
}

/** Parses a check SPEC; interval and timeout come from the service's options. */
export function parseCheckSpec(spec: string, intervalMs = DEFAULT_CHECK_INTERVAL_MS, timeoutMs?: number): CheckSpec {
  const timeout = timeoutMs ?? Math.min(DEFAULT_CHECK_TIMEOUT_MS, intervalMs);
  const hint = 'give check=http://127.0.0.1:8080/health, check=tcp:127.0.0.1:5432 or check=ttl:15s';
  if (spec.startsWith('http://') || spec.startsWith('https://')) {
    try {
      new URL(spec);
    } catch {
      throw usage(`check "${spec}" is not a valid URL`, hint);
    }
    return { kind: 'http', url: spec, intervalMs, timeoutMs: timeout };
  }
  if (spec.startsWith('tcp:')) {
    const address = spec.slice(4);
    // As the probe and agent.json's schema read it: a check join accepts is one the agent can run.
    const parsed = parseHostPort(address, TCP_CHECK_ADDR);
    if (!parsed.ok) throw usage(`check "${spec}" has no host:port: ${parsed.reason}`, hint);
    return { kind: 'tcp', address, intervalMs, timeoutMs: timeout };
  }
  if (spec.startsWith('ttl:')) return { kind: 'ttl', ttlMs: parseDuration(spec.slice(4), `check "${spec}"`) };
  throw usage(`check "${spec}" is not a known kind`, hint);
}

export function parseServiceFlag(flag: string): ServiceSpec {
  const [head = '', ...options] = flag.split(',');
  const eq = head.indexOf('=');
  if (eq <= 0) throw usage(`--service "${flag}": expected NAME=PORT first`, `use --service ${SERVICE_FORM}`);
  const name = validateName(head.slice(0, eq), `--service "${flag}"`);
  const port = parsePort(head.slice(eq + 1), `--service "${flag}"`, `use --service ${SERVICE_FORM}`);
  const spec: ServiceSpec = { id: name, name, port, address: '', tags: [], meta: {}, weight: 1, check: undefined };
  let checkText: string | undefined;
  let intervalMs: number | undefined;
  let timeoutMs: number | undefined;
  for (const option of options) {
    const cut = option.indexOf('=');
    const key = cut > 0 ? option.slice(0, cut) : option;
    const value = cut > 0 ? option.slice(cut + 1) : '';
    if (value === '') throw usage(`--service "${flag}": "${option}" has no value`, `use --service ${SERVICE_FORM}`);
    switch (key) {
      case 'check':
        checkText = value;
        break;
      case 'interval':
        intervalMs = parseDuration(value, `--service "${flag}" interval`);
        break;
      case 'timeout':
        timeoutMs = parseDuration(value, `--service "${flag}" timeout`);
        break;
      case 'tags':
        spec.tags = value.split('|').filter((t) => t !== '');
        break;
      case 'meta':
        for (const pair of value.split('|')) {
          const colon = pair.indexOf(':');
          if (colon <= 0) throw usage(`--service "${flag}": meta "${pair}" is not key:value`, 'use meta=version:v2|team:web');
          spec.meta[pair.slice(0, colon)] = pair.slice(colon + 1);
        }
        break;
      case 'weight':
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
          throw usage(`--service "${flag}": weight "${value}" is not a whole number from 1 to 65535`, 'use weight=3');
        }
        spec.weight = Number(value);
        break;
      case 'address':
        spec.address = value;
        break;
      case 'id':
        spec.id = validateName(value, `--service "${flag}" id`);
        break;
      default:
        throw usage(`--service "${flag}": unknown option "${key}"`, `use --service ${SERVICE_FORM}`);
    }
  }
  if (checkText !== undefined) spec.check = parseCheckSpec(checkText, intervalMs, timeoutMs);
  else if (intervalMs !== undefined || timeoutMs !== undefined) {
    throw usage(`--service "${flag}": interval and timeout need a check`, 'add check=http://…, check=tcp:… or check=ttl:…');
  }
  return spec;
}

export function parseUpstreamFlag(flag: string): UpstreamSpec {
  const hint = 'use --upstream NAME:LOCALPORT[,as=SERVICE], such as --upstream web:9191 or --upstream web:9191,as=client';
  const [head = '', ...options] = flag.split(',');
  const cut = head.lastIndexOf(':');
  if (cut <= 0) throw usage(`--upstream "${flag}": expected NAME:LOCALPORT`, hint);
  const spec: UpstreamSpec = { name: validateName(head.slice(0, cut), `--upstream "${flag}"`), localPort: parsePort(head.slice(cut + 1), `--upstream "${flag}"`, hint) };
  for (const option of options) {
    const [key, value] = option.split('=', 2);
    if (key !== 'as' || !value) throw usage(`--upstream "${flag}": unknown option "${option}"`, hint);
    spec.as = validateName(value, `--upstream "${flag}" as=`);
  }
  return spec;
}

/**
 * The local service each upstream calls as: its as=, else the host's
 * --identity, else the one service name on this host. Refuses an as= or an
 * identity naming no local service, and an upstream that leaves the choice
 * open on a host with several.
 */
export function resolveCallers(services: readonly ServiceSpec[], upstreams: readonly UpstreamSpec[], identity?: string): void {
  const names = [...new Set(services.map((s) => s.name))];
  if (identity !== undefined && !names.includes(identity)) {
    throw usage(`--identity "${identity}" is not a service on this host`, `register it with --service ${identity}=PORT, or pick one of: ${names.join(', ') || '(none registered)'}`);
  }
  for (const u of upstreams) {
    if (u.as !== undefined && !names.includes(u.as)) {
      throw usage(`upstream ${u.name} calls as "${u.as}", which is not a service on this host`, `register it with --service ${u.as}=PORT, or pick one of: ${names.join(', ') || '(none registered)'}`);
    }
    if (u.as === undefined && identity === undefined && names.length > 1) {
      throw usage(`upstream ${u.name}: this host runs ${names.join(', ')}, so say which one calls it`, `give --upstream ${u.name}:${u.localPort},as=${names[0]}, or --identity ${names[0]} for every upstream`);
    }
  }
}

/** The identity an upstream's calls carry (see resolveCallers); undefined on a host with no service. */
export function callerOf(services: readonly { name: string }[], upstream: { as?: string | undefined }, identity?: string): string | undefined {
  if (upstream.as !== undefined) return upstream.as;
  if (identity !== undefined) return identity;
  const names = new Set(services.map((s) => s.name));
  return names.size === 1 ? [...names][0] : undefined;
}

/** Refuses two instances with one ID, and two upstreams on one local port. */
export function checkUnique(services: readonly ServiceSpec[], upstreams: readonly UpstreamSpec[]): void {
  const ids = new Set<string>();
  for (const s of services) {
    if (ids.has(s.id)) {
      throw usage(`service instance "${s.id}" is given twice`, `give each instance of a service on this host its own id, such as --service ${s.name}=PORT,id=${s.name}-2`);
    }
    ids.add(s.id);
  }
  const ports = new Set<number>();
  for (const u of upstreams) {
    if (ports.has(u.localPort)) throw usage(`local port ${u.localPort} is given to two upstreams`, 'give each upstream its own local port');
    ports.add(u.localPort);
  }
}

/** How a check reads back to an operator ("http://… every 10s"). */
export function describeCheck(check: CheckSpec | undefined): string {
  if (!check) return 'no check';
  if (check.kind === 'ttl') return `ttl ${formatGoDuration(check.ttlMs)}`;
  return `${check.kind === 'http' ? check.url : `tcp ${check.address}`} every ${formatGoDuration(check.intervalMs)}`;
}
