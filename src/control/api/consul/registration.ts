// Turns decoded Consul registration bodies into catalog records, with
// Consul's defaults and its validation, in its words where clients match on
// them.

import { badRequest } from '../../../lib/errors.ts';
import { HEALTH_STATUSES, type CheckDefinition, type CheckRecord, type HealthStatus, type ServiceRecord } from '../../catalog/types.ts';
import type { Decoded } from './decode.ts';

const str = (d: Decoded, k: string): string => (d[k] as string | undefined) ?? '';
const UNSUPPORTED_CHECK_FIELDS = ['GRPC', 'H2PING', 'UDP', 'OSService', 'AliasNode', 'AliasService', 'DockerContainerID'];

export function parseStatus(value: string, fallback: HealthStatus = 'critical'): HealthStatus {
  if (value === '') return fallback;
  if ((HEALTH_STATUSES as readonly string[]).includes(value)) return value as HealthStatus;
  throw badRequest(`Invalid check status: "${value}" (use passing, warning or critical)`);
}

function validatePort(port: unknown, what: string): number {
  const value = (port as number | undefined) ?? 0;
  if (value < 0 || value > 65535) throw badRequest(`Invalid ${what}: ${value} is not a port (0-65535)`);
  return value;
}

function weights(d: Decoded): { Passing: number; Warning: number } {
  const w = d.Weights as Decoded | undefined;
  if (!w) return { Passing: 1, Warning: 1 };
  const passing = (w.Passing as number | undefined) ?? 1;
  const warning = (w.Warning as number | undefined) ?? 1;
  if (passing < 1) throw badRequest('Passing must be greater than 0');
  if (warning < 0) throw badRequest('Warning must be greater or equal than 0');
  return { Passing: passing, Warning: warning };
}

function taggedAddresses(d: Decoded): ServiceRecord['TaggedAddresses'] {
  const out: ServiceRecord['TaggedAddresses'] = {};
  for (const [tag, value] of Object.entries((d.TaggedAddresses as Record<string, Decoded> | undefined) ?? {})) {
    out[tag] = { Address: str(value, 'Address'), Port: validatePort(value.Port, `tagged address ${tag} port`) };
  }
  return out;
}

function serviceRecord(d: Decoded, name: string): ServiceRecord {
  if (name === '') throw badRequest('Missing service name');
  const kind = str(d, 'Kind');
  if (kind !== '' && kind !== 'typical' && kind !== 'connect-proxy') {
    throw badRequest(`Invalid service Kind "${kind}": meshctl registers "" (typical) and "connect-proxy" services`);
  }
  return {
    Kind: kind === 'typical' ? '' : kind,
    ID: str(d, 'ID') || name,
    Service: name,
    Tags: (d.Tags as string[] | undefined) ?? [],
    Address: str(d, 'Address'),
    Port: validatePort(d.Port, 'service port'),
    SocketPath: str(d, 'SocketPath'),
    TaggedAddresses: taggedAddresses(d),
    Meta: (d.Meta as Record<string, string> | undefined) ?? {},
    Weights: weights(d),
    EnableTagOverride: (d.EnableTagOverride as boolean | undefined) ?? false,
    Proxy: d.Proxy ?? null,
    Connect: d.Connect ?? null,
  };
}

/** PUT /v1/agent/service/register body. */
export const serviceFromAgent = (d: Decoded): ServiceRecord => serviceRecord(d, str(d, 'Name'));
/** The Service of a PUT /v1/catalog/register body. */
export const serviceFromCatalog = (d: Decoded): ServiceRecord => serviceRecord(d, str(d, 'Service'));

function definitionOf(d: Decoded): CheckDefinition {
  const def: CheckDefinition = {};
  for (const key of ['Interval', 'Timeout', 'TTL', 'HTTP', 'Method', 'Body', 'TLSServerName', 'TCP', 'DeregisterCriticalServiceAfter'] as const) {
    if (d[key] !== undefined && d[key] !== '') def[key] = d[key] as string;
  }
  if (d.Header !== undefined) def.Header = d.Header as Record<string, string[]>;
  if (d.TLSSkipVerify !== undefined) def.TLSSkipVerify = d.TLSSkipVerify as boolean;
  if (d.DisableRedirects !== undefined) def.DisableRedirects = d.DisableRedirects as boolean;
  return def;
}

/** Which kind of check an agent check definition is, refusing those meshctl does not run. */
function agentCheckType(d: Decoded): 'ttl' | 'http' | 'tcp' {
  if ((d.Args as string[] | undefined)?.length || (d.ScriptArgs as string[] | undefined)?.length) {
    throw badRequest('Scripts are disabled on this agent: meshctl does not run script checks (use HTTP, TCP or TTL)');
  }
  for (const field of UNSUPPORTED_CHECK_FIELDS) {
    if (d[field] !== undefined && d[field] !== '') {
      throw badRequest(`Invalid check: ${field} checks are not supported by meshctl (use HTTP, TCP or TTL)`);
    }
  }
  if (d.TTL !== undefined) {
    if (d.TTL === '0s') throw badRequest('Invalid check: TTL must be > 0 for TTL checks');
    return 'ttl';
  }
  const type = d.HTTP ? 'http' : d.TCP ? 'tcp' : undefined;
  if (!type) throw badRequest('Invalid check: must give one of TTL, HTTP or TCP');
  if (d.Interval === undefined || d.Interval === '0s') {
    throw badRequest('Invalid check: Interval must be > 0 for Script, HTTP, H2PING, or TCP checks');
  }
  if (type === 'http') {
    let url: URL;
    try {
      url = new URL(d.HTTP as string);
    } catch {
      throw badRequest(`Invalid check: HTTP "${d.HTTP as string}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badRequest('Invalid check: HTTP must be an http:// or https:// URL');
  }
  return type;
}

/** One agent check (a service's Check/Checks, or PUT /v1/agent/check/register). */
export function checkFromAgent(d: Decoded, node: string, defaults: { id: string; name: string; serviceId: string }): CheckRecord {
  const type = agentCheckType(d);
  const definition = definitionOf(d);
  if (type !== 'ttl' && definition.Timeout === undefined) definition.Timeout = '10s';
  return {
    Node: node,
    CheckID: str(d, 'CheckID') || str(d, 'ID') || defaults.id,
    Name: str(d, 'Name') || defaults.name,
    Status: parseStatus(str(d, 'Status')),
    Notes: str(d, 'Notes'),
    Output: '',
    ServiceID: str(d, 'ServiceID') || defaults.serviceId,
    Type: type,
    Definition: definition,
  };
}

/** The checks of an agent service registration, with Consul's generated IDs. */
export function checksFromAgentService(d: Decoded, node: string, service: ServiceRecord): CheckRecord[] {
  const definitions: Decoded[] = [];
  if (d.Check && Object.keys(d.Check as Decoded).length > 0) definitions.push(d.Check as Decoded);
  definitions.push(...((d.Checks as Decoded[] | undefined) ?? []));
  return definitions.map((check, i) =>
    checkFromAgent(check, node, {
      id: definitions.length === 1 ? `service:${service.ID}` : `service:${service.ID}:${i + 1}`,
      name: `Service '${service.Service}' check`,
      serviceId: service.ID,
    }),
  );
}

/** A check from PUT /v1/catalog/register: a status report, not something the server runs. */
export function checkFromCatalog(d: Decoded, node: string, serviceId: string): CheckRecord {
  const checkNode = str(d, 'Node') || node;
  if (checkNode !== node) throw badRequest(`Check node "${checkNode}" does not match the registration node "${node}"`);
  const id = str(d, 'CheckID') || str(d, 'Name');
  if (id === '') throw badRequest('Invalid check: missing CheckID and Name');
  return {
    Node: node,
    CheckID: id,
    Name: str(d, 'Name') || id,
    Status: parseStatus(str(d, 'Status')),
    Notes: str(d, 'Notes'),
    Output: str(d, 'Output'),
    ServiceID: str(d, 'ServiceID') || serviceId,
    Type: str(d, 'Type'),
    Definition: definitionOf((d.Definition as Decoded | undefined) ?? {}),
  };
}
