// join's access log flags (--access-log PATH|off, --access-log-max-size,
// --access-log-keep) → the agent config's accessLog block, checked before
// join touches the host.

import { resolve } from 'node:path';
import type { AgentConfig } from '../agent/config/agent-config.ts';
import { DEFAULT_ACCESS_LOG_KEEP, DEFAULT_ACCESS_LOG_MAX_BYTES } from '../agent/telemetry/access-log-file.ts';
import { MeshError } from '../lib/errors.ts';
import { parseCount } from '../lib/count.ts';

export interface AccessLogFlags {
  accessLog?: string;
  accessLogMaxSize?: string;
  accessLogKeep?: string;
}

/** The access log's block of the agent's config: left out when every flag is at its default. */
export function accessLogConfig(flags: AccessLogFlags): Pick<AgentConfig, 'accessLog'> {
  if (flags.accessLog === 'off') return { accessLog: 'off' };
  const size = /^(\d+)\s*([kmg]?)i?b?$/i.exec(flags.accessLogMaxSize ?? '100MB');
  const maxBytes = size ? Number(size[1]) * 1024 ** ' kmg'.indexOf((size[2] || ' ').toLowerCase()) : NaN;
  if (!(maxBytes >= 1024)) throw new MeshError('MESH_E_USAGE', `--access-log-max-size "${flags.accessLogMaxSize}" is not a size of at least 1KB`, { hint: 'use --access-log-max-size 100MB (B, KB, MB or GB)' });
  const keep = parseCount(flags.accessLogKeep ?? '5', { min: 1, max: 1000 });
  if (keep === undefined) throw new MeshError('MESH_E_USAGE', `--access-log-keep "${flags.accessLogKeep}" is not a number of files`, { hint: 'use --access-log-keep 1..1000' });
  const path = flags.accessLog === undefined ? undefined : resolve(flags.accessLog);
  if (path === undefined && maxBytes === DEFAULT_ACCESS_LOG_MAX_BYTES && keep === DEFAULT_ACCESS_LOG_KEEP) return {};
  return { accessLog: { ...(path ? { path } : {}), maxBytes, keep } };
}
