// Where a command finds the server and its token, in DESIGN.md's order:
// --server / --token, then MESHCTL_SERVER / MESHCTL_TOKEN, then the joined
// agent's config on this host, then 127.0.0.1:8500 (as Consul's CLI does with
// CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN). For an https server, the CA comes
// from MESHCTL_CA_FILE, else from the joined agent (the roots it verified at
// join), as CONSUL_CACERT does.

import { readFileSync } from 'node:fs';
import type { ServerTls } from '../lib/tls/server-trust.ts';
import { join } from 'node:path';
import { MeshError } from '../lib/errors.ts';
import { DEFAULT_CONFIG_DIR, serverTlsOf } from '../agent/config/agent-config.ts';

export const DEFAULT_SERVER = '127.0.0.1:8500';

export interface Target {
  /** Base URL, without a trailing slash. */
  readonly url: string;
  readonly token: string | undefined;
  /** Where the address came from, for error messages. */
  readonly source: 'flag' | 'env' | 'agent-config' | 'default';
  /** How an https server is verified. */
  readonly tls?: ServerTls | undefined;
  /** The joined agent's server, when this host has one and --server or MESHCTL_SERVER points elsewhere. */
  readonly joinedServer?: string | undefined;
}

/** Where the address came from, as messages say it. */
export const SOURCE_TEXT: Record<Target['source'], string> = {
  flag: 'from --server',
  env: 'from MESHCTL_SERVER',
  'agent-config': "the joined agent's server",
  default: 'the default',
};

export interface TargetInputs {
  flagServer?: string | undefined;
  flagToken?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** The joined agent's config, if this host has one. */
  agentConfig?: AgentTarget | undefined;
}

export interface AgentTarget {
  server?: string;
  token?: string;
  dataDir?: string;
  serverCaPem?: string[];
  insecureSkipVerify?: boolean;
}

/** Pure: decides the target from the inputs. */
export function resolveTarget(inputs: TargetInputs): Target {
  const { flagServer, flagToken, env, agentConfig } = inputs;
  let server: string;
  let source: Target['source'];
  if (flagServer) [server, source] = [flagServer, 'flag'];
  else if (env.MESHCTL_SERVER) [server, source] = [env.MESHCTL_SERVER, 'env'];
  else if (agentConfig?.server) [server, source] = [agentConfig.server, 'agent-config'];
  else [server, source] = [DEFAULT_SERVER, 'default'];
  const token = flagToken || env.MESHCTL_TOKEN || agentConfig?.token || undefined;
  const caFile = env.MESHCTL_CA_FILE;
  const url = serverUrl(server);
  let tls: ServerTls | undefined;
  if (caFile) tls = { rootsPem: readCaFile(caFile, 'MESHCTL_CA_FILE') };
  // The joined agent's trust is for its own server only: another server is verified by MESHCTL_CA_FILE.
  else if (agentConfig?.server && serverUrl(agentConfig.server) === url) tls = serverTlsOf({ ...agentConfig, dataDir: agentConfig.dataDir ?? '' });
  const joinedServer = agentConfig?.server && serverUrl(agentConfig.server) !== url ? serverUrl(agentConfig.server) : undefined;
  return { url, token, source, tls, ...(joinedServer ? { joinedServer } : {}) };
}

/**
 * The way out that ends a hint about trusting the server: on a joined host
 * whose agent config an override bypasses, drop the override (the agent
 * holds its server's CA); on a host not joined, run the command on one.
 */
export function trustWayOut(target: Target): string {
  if (target.joinedServer) {
    const override = target.source === 'flag' ? 'drop --server' : 'unset MESHCTL_SERVER';
    return `or ${override}: this host is joined to ${target.joinedServer}, whose CA its agent holds, and ${target.source === 'flag' ? '--server' : 'MESHCTL_SERVER'} points at ${target.url} instead`;
  }
  if (target.source === 'agent-config') return 'or join this host again if the mesh CA has changed since it joined';
  return 'or run the command on a joined host';
}

/** The PEM certificates of a CA file, or a usage error naming the file. */
export function readCaFile(path: string, flag: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MeshError('MESH_E_USAGE', `${flag} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { hint: 'give the mesh CA root, as meshctl ca show --json prints it' });
  }
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g) ?? [];
  if (certs.length === 0) throw new MeshError('MESH_E_USAGE', `${flag} ${path} holds no PEM certificate`, { hint: 'give the mesh CA root, as meshctl ca show --json prints it' });
  return certs;
}

export function serverUrl(server: string): string {
  const withScheme = /^https?:\/\//.test(server) ? server : `http://${server}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new MeshError('MESH_E_USAGE', `invalid server address "${server}"`, { hint: 'give host:port or a URL, such as 127.0.0.1:8500' });
  }
  if (url.pathname !== '/' || url.search) {
    throw new MeshError('MESH_E_USAGE', `invalid server address "${server}": it has a path`, { hint: 'give host:port only' });
  }
  return url.origin;
}

/** Reads the joined agent's config, if any; a missing file is not an error. */
export function readAgentConfig(env: NodeJS.ProcessEnv): AgentTarget | undefined {
  const path = join(env.MESHCTL_CONFIG_DIR || DEFAULT_CONFIG_DIR, 'agent.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as { server?: unknown; token?: unknown; serverCaPem?: unknown; insecureSkipVerify?: unknown; dataDir?: unknown };
    return {
      ...(typeof parsed.server === 'string' ? { server: parsed.server } : {}),
      ...(typeof parsed.token === 'string' ? { token: parsed.token } : {}),
      ...(Array.isArray(parsed.serverCaPem) && parsed.serverCaPem.every((c) => typeof c === 'string') ? { serverCaPem: parsed.serverCaPem as string[] } : {}),
      ...(parsed.insecureSkipVerify === true ? { insecureSkipVerify: true } : {}),
      ...(typeof parsed.dataDir === 'string' ? { dataDir: parsed.dataDir } : {}),
    };
  } catch {
    throw new MeshError('MESH_E_USAGE', `the agent config ${path} is not valid JSON`, { hint: 'run meshctl join again, or pass --server and --token' });
  }
}
