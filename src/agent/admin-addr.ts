// Where a running agent's admin API listens. Usually the configured address;
// with port 0 the agent writes the one it got to DATA_DIR/agent/admin.addr.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentStateDir, listenAddrOf, type AgentConfig } from './config/agent-config.ts';

export const adminAddrPath = (dataDir: string): string => join(agentStateDir(dataDir), 'admin.addr');

export function resolveAdminAddr(config: Pick<AgentConfig, 'adminAddr' | 'dataDir'>): string {
  if (listenAddrOf(config.adminAddr).port !== 0) return config.adminAddr;
  try {
    return readFileSync(adminAddrPath(config.dataDir), 'utf8').trim();
  } catch {
    return config.adminAddr;
  }
}
