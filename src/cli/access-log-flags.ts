// join's access log flags (--access-log PATH|off, --access-log-max-size,
// --access-log-keep) → the agent config's accessLog block, checked before
// join touches the host. Their defaults and ranges are the agent config's
// (ACCESS_LOG_DEFAULTS, ACCESS_LOG_LIMITS), not copies of them.

import { resolve } from 'node:path';
import { ACCESS_LOG_DEFAULTS, ACCESS_LOG_LIMITS, type AgentConfig } from '../agent/config/agent-config.ts';
import { parseCount } from '../lib/count.ts';
import { MeshError } from '../lib/errors.ts';

export interface AccessLogFlags {
  accessLog?: string;
  accessLogMaxSize?: string;
  accessLogKeep?: string;
}

const UNITS = ['B', 'KB', 'MB', 'GB'] as const;

/** Bytes as --access-log-max-size takes them: the largest unit that divides them (104857600 → "100MB"). */
export function sizeText(bytes: number): string {
  let unit = 0;
  while (unit < UNITS.length - 1 && bytes % 1024 ** (unit + 1) === 0) unit++;
  return `${bytes / 1024 ** unit}${UNITS[unit]}`;
}

/** The flags' defaults as join's help shows them. */
export const ACCESS_LOG_FLAG_DEFAULTS = Object.freeze({ maxSize: sizeText(ACCESS_LOG_DEFAULTS.maxBytes), keep: String(ACCESS_LOG_DEFAULTS.keep) });

function maxBytesOf(text: string | undefined): number {
  if (text === undefined) return ACCESS_LOG_DEFAULTS.maxBytes;
  const size = /^(\d+)\s*([kmg]?)i?b?$/i.exec(text);
  const maxBytes = size ? Number(size[1]) * 1024 ** ' kmg'.indexOf((size[2] || ' ').toLowerCase()) : NaN;
  if (!(maxBytes >= ACCESS_LOG_LIMITS.minBytes)) {
    throw new MeshError('MESH_E_USAGE', `--access-log-max-size "${text}" is not a size of at least ${sizeText(ACCESS_LOG_LIMITS.minBytes)}`, { hint: `use --access-log-max-size ${ACCESS_LOG_FLAG_DEFAULTS.maxSize} (B, KB, MB or GB)` });
  }
  return maxBytes;
}

function keepOf(text: string | undefined): number {
  if (text === undefined) return ACCESS_LOG_DEFAULTS.keep;
  const keep = parseCount(text, { min: 1, max: ACCESS_LOG_LIMITS.maxKeep });
  if (keep === undefined) throw new MeshError('MESH_E_USAGE', `--access-log-keep "${text}" is not a number of files`, { hint: `use --access-log-keep 1..${ACCESS_LOG_LIMITS.maxKeep}` });
  return keep;
}

/** The access log's block of the agent's config: left out when every flag is at its default. */
export function accessLogConfig(flags: AccessLogFlags): Pick<AgentConfig, 'accessLog'> {
  if (flags.accessLog === 'off') return { accessLog: 'off' };
  const maxBytes = maxBytesOf(flags.accessLogMaxSize);
  const keep = keepOf(flags.accessLogKeep);
  const path = flags.accessLog === undefined ? undefined : resolve(flags.accessLog);
  if (path === undefined && maxBytes === ACCESS_LOG_DEFAULTS.maxBytes && keep === ACCESS_LOG_DEFAULTS.keep) return {};
  return { accessLog: { ...(path ? { path } : {}), maxBytes, keep } };
}
