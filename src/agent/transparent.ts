// Transparent mode on a host: the iptables rules that send its traffic
// through the proxy, and the dedicated user the agent (and so its proxy)
// runs as, whose own connections those rules let go direct. One place maps
// the agent's config to the rule builder's input, for join, the agent and
// leave alike.
//
// The agent starts as root (the supervisor runs it so): it applies the rules
// (again after a reboot, idempotently), hands its data dir to the proxy user,
// then drops to that user for good.

import { chownSync, lstatSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { applyRules, type ApplyResult } from '../iptables/apply.ts';
import { resolveTransparentConfig, type TransparentConfig } from '../iptables/config.ts';
import { originalDstAvailable } from '../iptables/original-dst.ts';
import { MeshError } from '../lib/errors.ts';
import type { AgentConfig } from './config/agent-config.ts';

/** The rules this host's config calls for: its services' ports are the meshed inbound ports. */
export function transparentRulesOf(config: AgentConfig): TransparentConfig | undefined {
  const t = config.transparent;
  if (!t) return undefined;
  return resolveTransparentConfig({
    proxyUid: t.proxyUid,
    outboundPort: t.outboundPort,
    inboundPort: Number(config.inboundAddr.slice(config.inboundAddr.lastIndexOf(':') + 1)),
    dnsPort: t.dnsPort,
    redirectDns: t.redirectDns,
    inboundPorts: [...new Set(config.services.map((s) => s.port))],
    excludeInboundPorts: t.excludeInboundPorts,
    excludeOutboundPorts: t.excludeOutboundPorts,
    // The control plane is reached directly: its API is TLS already, and the CLI on this host must reach it while the agent is down.
    excludeOutboundCidrs: [...t.excludeOutboundCidrs, ...serverCidr(config.server)],
  });
}

function serverCidr(server: string): string[] {
  const host = new URL(server).hostname.replace(/^\[|\]$/g, '');
  const family = isIP(host);
  return family === 4 ? [`${host}/32`] : family === 6 ? [`${host}/128`] : [];
}

/** Applies the rules, gives the data dir to the proxy user, and becomes that user. Needs root. */
export async function enterTransparentMode(config: AgentConfig, log: (line: string) => void): Promise<ApplyResult | undefined> {
  const rules = transparentRulesOf(config);
  const t = config.transparent;
  if (!rules || !t) return undefined;
  if (process.getuid?.() !== 0) {
    if (process.getuid?.() !== t.proxyUid) log(`transparent mode: running as uid ${process.getuid?.()}, not root nor ${t.proxyUser}; the rules are left as they are`);
    return undefined;
  }
  // Loaded now, as root: after the drop the install dir may not be readable.
  if (!originalDstAvailable()) throw new MeshError('MESH_E_INTERNAL', 'transparent mode needs the SO_ORIGINAL_DST addon, which is not built', { hint: 'run npm run build in the meshctl install (it needs gcc)' });
  const result = await applyRules(rules);
  log(`transparent mode: iptables rules applied (${result.backend}; IPv4 redirected, IPv6 ${result.ipv6}${result.ipv6Reason ? `: ${result.ipv6Reason}` : ''})`);
  chownTree(config.dataDir, t.proxyUid, t.proxyGid);
  process.setgroups?.([t.proxyGid]);
  process.setgid?.(t.proxyGid);
  process.setuid?.(t.proxyUid);
  log(`transparent mode: running as ${t.proxyUser} (uid ${t.proxyUid}), whose connections the rules let go direct`);
  return result;
}

/** chown -R, without following symlinks. */
export function chownTree(path: string, uid: number, gid: number): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  chownSync(path, uid, gid);
  if (stat.isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}
