// The agent's config: written by `meshctl join` (0600, token included) as
// CONFIG_DIR/agent.json, read by the agent at start and on SIGHUP. One zod
// schema, unknown keys refused, every error reported at once with its path.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { MeshError } from '../../lib/errors.ts';
import { makeDirs } from '../../lib/make-dirs.ts';
import { hostPortOf, parseHostPort, type HostPort, type HostPortRules } from '../../lib/net/host-port.ts';
import { TCP_CHECK_ADDR } from '../../lib/probes.ts';

/** MESHCTL_CONFIG_DIR moves the default, for hosts (and tests) with several agents. */
export const DEFAULT_CONFIG_DIR = process.env.MESHCTL_CONFIG_DIR || '/etc/meshctl';
export const DEFAULT_DATA_DIR = '/var/lib/meshctl';
export const DEFAULT_ADMIN_ADDR = '127.0.0.1:15000';
export const DEFAULT_INBOUND_PORT = 15006;
export const CONFIG_FILE = 'agent.json';

/** The agent's listeners (admin API, proxy inbound): an IP (IPv6 in brackets) or localhost, and a port, 0 for any free one. */
export const LISTEN_ADDR: HostPortRules = { hosts: 'listen', minPort: 0 };

/** adminAddr or inboundAddr of a config that passed the schema, split for listen(). */
export const listenAddrOf = (text: string): HostPort => hostPortOf(text, LISTEN_ADDR);

/**
 * An address field checked as join checks its flag, so a hand-edited
 * agent.json is refused at start with the field's path and the reason,
 * not met later as a listener that fails or a probe that never connects.
 */
const hostPortField = (rules: HostPortRules) =>
  z.string().superRefine((text, ctx) => {
    const parsed = parseHostPort(text, rules);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `"${text}" is not HOST:PORT: ${parsed.reason}` });
  });

/** A port in a config file: 1..65535, or from 0 where 0 means "any free port". */
export const portField = (min: 0 | 1 = 1) => z.number().int().min(min).max(65535);

const ipField = () => z.string().refine((text) => isIP(text) !== 0, { error: (issue) => `${JSON.stringify(issue.input)} is not an IP address` });

const checkSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('http'), url: z.string().url(), intervalMs: z.number().int().positive(), timeoutMs: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('tcp'), address: hostPortField(TCP_CHECK_ADDR), intervalMs: z.number().int().positive(), timeoutMs: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('ttl'), ttlMs: z.number().int().positive() }),
]);

const serviceSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  port: portField(),
  address: z.string(),
  tags: z.array(z.string()),
  meta: z.record(z.string(), z.string()),
  weight: z.number().int().min(1),
  check: checkSchema.optional(),
});

/**
 * The access log's rotation when the config leaves it out: the one place these
 * numbers are written (the agent applies them, join's flags default to them).
 */
export const ACCESS_LOG_DEFAULTS = Object.freeze({ maxBytes: 100 * 1024 * 1024, keep: 5 });
/** What the schema accepts, and join's flags with it. */
export const ACCESS_LOG_LIMITS = Object.freeze({ minBytes: 1024, maxKeep: 1000 });

export const agentConfigSchema = z.strictObject({
  version: z.literal(1),
  server: z.string().url(),
  /** For an https server: the mesh roots it was verified against at join (the roots watch keeps them current). */
  serverCaPem: z.array(z.string()).optional(),
  /** join --insecure-skip-verify: the server's certificate is not checked. */
  insecureSkipVerify: z.boolean().optional(),
  token: z.string(),
  nodeName: z.string().min(1),
  advertiseAddr: ipField(),
  services: z.array(serviceSchema),
  /** join --identity: the service the host's calls go out as, unless an upstream says as=. */
  identity: z.string().min(1).optional(),
  upstreams: z.array(z.strictObject({ name: z.string().min(1), localPort: portField(), as: z.string().min(1).optional() })),
  configDir: z.string().min(1),
  dataDir: z.string().min(1),
  adminAddr: hostPortField(LISTEN_ADDR),
  /** The proxy's inbound listener, which other hosts' proxies connect to. */
  inboundAddr: hostPortField(LISTEN_ADDR),
  /** join --metrics-port: Prometheus metrics on 127.0.0.1 and advertiseAddr (0: any free port; absent: 15090, configs written before it). */
  metricsPort: portField(0).optional(),
  heartbeatIntervalMs: z.number().int().min(100),
  syncIntervalMs: z.number().int().min(100),
  /**
   * join --access-log: 'off', or where the JSON access log goes and how it is rotated
   * (absent: DATA_DIR/agent/access.log and ACCESS_LOG_DEFAULTS).
   */
  accessLog: z
    .union([
      z.literal('off'),
      z.strictObject({
        path: z.string().startsWith('/', 'must be an absolute path').optional(),
        maxBytes: z.number().int().min(ACCESS_LOG_LIMITS.minBytes).optional(),
        keep: z.number().int().min(1).max(ACCESS_LOG_LIMITS.maxKeep).optional(),
      }),
    ])
    .optional(),
  /** join --transparent: iptables send the host's traffic through the proxy, which runs as proxyUser. */
  transparent: z
    .strictObject({
      proxyUser: z.string().min(1),
      proxyUid: z.number().int().min(1),
      proxyGid: z.number().int().min(1),
      outboundPort: portField(),
      dnsPort: portField(),
      redirectDns: z.boolean(),
      excludeInboundPorts: z.array(portField()),
      excludeOutboundPorts: z.array(portField()),
      excludeOutboundCidrs: z.array(z.string().min(1)),
      /** The server's address when join was given a host name (resolved then), for its exclusion from redirection. */
      serverAddress: ipField().optional(),
    })
    .optional(),
});

/**
 * What the agent itself writes (snapshot, certificates and keys, admin.addr),
 * apart from what root's supervisor and join keep in the data dir (pid files,
 * logs, install.json): in transparent mode only this directory is handed to
 * the proxy user the agent drops to.
 */
export const agentStateDir = (dataDir: string): string => join(dataDir, 'agent');

export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_DNS_PORT = 15053;

export type AgentConfig = z.infer<typeof agentConfigSchema>;

export const configPath = (configDir: string): string => join(configDir, CONFIG_FILE);

/** Formats zod issues as "path: message" lines, all of them. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

export function parseAgentConfig(value: unknown, source: string): AgentConfig {
  const result = agentConfigSchema.safeParse(value);
  if (!result.success) {
    throw new MeshError('MESH_E_USAGE', `invalid agent config ${source}: ${describeIssues(result.error)}`, { hint: 'run meshctl join again to rewrite it' });
  }
  return Object.freeze(result.data);
}

export function readAgentConfigFile(configDir: string): AgentConfig | undefined {
  const path = configPath(configDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MeshError('MESH_E_DATA_DIR', `cannot read ${path}: ${(error as Error).message}`, { hint: 'run as root, or pass --config-dir' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MeshError('MESH_E_USAGE', `${path} is not valid JSON: ${(error as Error).message}`, { hint: 'run meshctl join again to rewrite it' });
  }
  return parseAgentConfig(parsed, path);
}

/** Writes a file atomically (temp file, fsync, rename) with the given mode. */
export function writeFileAtomic(path: string, content: string, mode: number): void {
  // Not Node's recursive mkdir: it loops for ever (hanging the process) on a path like /proc/x.
  makeDirs(dirname(path), 0o700);
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, content, { mode });
  chmodSync(temp, mode);
  const fd = openSync(temp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export function writeAgentConfig(config: AgentConfig): void {
  writeFileAtomic(configPath(config.configDir), `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

/** A short digest of a config, so join can tell when the agent has synced exactly the one it wrote. */
export function configDigest(config: AgentConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/**
 * How tools on this host verify the server: the roots join verified, plus
 * the ones the agent's roots watch has kept since (DATA_DIR/certs/trust.json),
 * so a CA rotation does not cut `leave` or the CLI off.
 */
export function serverTlsOf(config: Pick<AgentConfig, 'serverCaPem' | 'insecureSkipVerify' | 'dataDir'>): { rootsPem: string[]; insecureSkipVerify?: boolean } | undefined {
  if (config.insecureSkipVerify) return { rootsPem: [], insecureSkipVerify: true };
  if (!config.serverCaPem) return undefined;
  let watched: string[] = [];
  try {
    const saved = JSON.parse(readFileSync(join(agentStateDir(config.dataDir), 'certs', 'trust.json'), 'utf8')) as { rootsPem?: unknown };
    if (Array.isArray(saved.rootsPem)) watched = saved.rootsPem.filter((r): r is string => typeof r === 'string');
  } catch {
    // No roots watched yet: the join-time ones.
  }
  return { rootsPem: [...new Set([...config.serverCaPem, ...watched])] };
}
