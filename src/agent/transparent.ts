// Transparent mode on a host: the iptables rules that send its traffic
// through the proxy, and the dedicated user the agent (and so its proxy)
// runs as, whose own connections those rules let go direct. One place maps
// the agent's config to the rule builder's input, for join, the agent and
// leave alike.
//
// The agent starts as root (the supervisor runs it so): it applies the rules
// (again after a reboot, idempotently), hands its own state directory
// (DATA_DIR/agent: snapshot, certificates, admin.addr) to the proxy user,
// then drops to that user for good. Everything root relies on later (pid
// files, logs, install.json, agent.json) stays root's, so a compromised proxy
// cannot steer what root writes or removes.

import { chmodSync, chownSync, lchownSync, lstatSync, readdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { applyRules, type ApplyResult } from '../iptables/apply.ts';
import { resolveTransparentConfig, type TransparentConfig } from '../iptables/config.ts';
import { originalDstAvailable } from '../iptables/original-dst.ts';
import { MeshError } from '../lib/errors.ts';
import { agentStateDir, listenAddrOf, type AgentConfig } from './config/agent-config.ts';
import { urlHostPort } from '../lib/net/host-port.ts';
import { makeDirs } from '../lib/make-dirs.ts';

/** The rules this host's config calls for: its services' ports are the meshed inbound ports. */
export function transparentRulesOf(config: AgentConfig): TransparentConfig | undefined {
  const t = config.transparent;
  if (!t) return undefined;
  return resolveTransparentConfig({
    proxyUid: t.proxyUid,
    outboundPort: t.outboundPort,
    inboundPort: listenAddrOf(config.inboundAddr).port,
    dnsPort: t.dnsPort,
    metricsPort: config.metricsPort,
    adminPort: listenAddrOf(config.adminAddr).port,
    redirectDns: t.redirectDns,
    inboundPorts: [...new Set(config.services.map((s) => s.port))],
    excludeInboundPorts: t.excludeInboundPorts,
    excludeOutboundPorts: t.excludeOutboundPorts,
    excludeOutboundCidrs: t.excludeOutboundCidrs,
    // The control plane's API port, and only it, is reached directly: the API is TLS already, and the CLI on
    // this host must reach it while the agent is down. (A server named by host name was resolved at join.)
    excludeOutboundDestinations: serverDestination(config.server, t.serverAddress),
  });
}

function serverDestination(server: string, resolved: string | undefined): Array<{ address: string; port: number }> {
  const { host, port } = urlHostPort(new URL(server));
  const address = isIP(host) ? host : resolved;
  return address ? [{ address, port }] : [];
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
  // The data dir stays root's; the proxy user's group may only pass through it to its own state.
  chownSync(config.dataDir, 0, t.proxyGid);
  chmodSync(config.dataDir, 0o710);
  handOver(agentStateDir(config.dataDir), t.proxyUid, t.proxyGid);
  process.setgroups?.([t.proxyGid]);
  process.setgid?.(t.proxyGid);
  process.setuid?.(t.proxyUid);
  log(`transparent mode: running as ${t.proxyUser} (uid ${t.proxyUid}), whose connections the rules let go direct`);
  return result;
}

/**
 * Gives the agent's state directory to the proxy user. Only a directory root
 * still owns is walked (its contents were made by root, so nothing in it can
 * be a trap); one the proxy user already owns is left as it is, and any
 * other owner is refused. lchown never follows a link.
 */
export function handOver(dir: string, uid: number, gid: number): void {
  makeDirs(dir, 0o700);
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink() || !stat.isDirectory()) throw new MeshError('MESH_E_DATA_DIR', `${dir} is not a directory`, { hint: 'remove it; the agent makes it again' });
  if (stat.uid === uid) return;
  if (stat.uid !== 0) throw new MeshError('MESH_E_DATA_DIR', `${dir} belongs to uid ${stat.uid}, neither root nor the proxy user`, { hint: 'remove it; the agent makes it again' });
  const walk = (path: string): void => {
    const s = lstatSync(path);
    lchownSync(path, uid, gid);
    if (s.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
  };
  walk(dir);
}
