// Where a command finds the server and its token, in DESIGN.md's order:
// --server / --token, then MESHCTL_SERVER / MESHCTL_TOKEN, then the joined
// agent's config on this host, then 127.0.0.1:8500 (as Consul's CLI does with
// CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeshError } from '../lib/errors.ts';
import { DEFAULT_CONFIG_DIR } from '../agent/config/agent-config.ts';

export const DEFAULT_SERVER = '127.0.0.1:8500';

export interface Target {
  /** Base URL, without a trailing slash. */
  readonly url: string;
  readonly token: string | undefined;
  /** Where the address came from, for error messages. */
  readonly source: 'flag' | 'env' | 'agent-config' | 'default';
}

export interface TargetInputs {
  flagServer?: string | undefined;
  flagToken?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** The joined agent's config, if this host has one. */
  agentConfig?: { server?: string; token?: string } | undefined;
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
  return { url: serverUrl(server), token, source };
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
export function readAgentConfig(env: NodeJS.ProcessEnv): { server?: string; token?: string } | undefined {
  const path = join(env.MESHCTL_CONFIG_DIR || DEFAULT_CONFIG_DIR, 'agent.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as { server?: unknown; token?: unknown };
    return {
      ...(typeof parsed.server === 'string' ? { server: parsed.server } : {}),
      ...(typeof parsed.token === 'string' ? { token: parsed.token } : {}),
    };
  } catch {
    throw new MeshError('MESH_E_USAGE', `the agent config ${path} is not valid JSON`, { hint: 'run meshctl join again, or pass --server and --token' });
  }
}
