// `meshctl join` and `meshctl leave`: one command puts a host in the mesh,
// one takes it out and leaves no trace.

import { createSocket } from 'node:dgram';
import { existsSync, realpathSync, rmSync, readdirSync, rmdirSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, join as joinPath, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  DEFAULT_ADMIN_ADDR,
  DEFAULT_INBOUND_PORT,
  DEFAULT_CONFIG_DIR,
  DEFAULT_DATA_DIR,
  configDigest,
  configPath,
  parseAgentConfig,
  readAgentConfigFile,
  serverTlsOf,
  writeAgentConfig,
  type AgentConfig,
} from '../agent/config/agent-config.ts';
import { callerOf, checkUnique, describeCheck, resolveCallers, parseServiceFlag, parseUpstreamFlag, validateName, type ServiceSpec, type UpstreamSpec } from '../agent/config/service-spec.ts';
import { readServicesFile } from '../agent/config/services-file.ts';
import { Agent } from '../agent/agent.ts';
import {
  builtinSupervisorPid,
  readInstallRecord,
  reloadBuiltinSupervisor,
  startBuiltinSupervisor,
  stopBuiltinSupervisor,
  writeInstallRecord,
  firstMissingAncestor,
  type InstallRecord,
} from '../agent/supervisor/install.ts';
import { logsDir } from '../agent/supervisor/builtin.ts';
import { agentFailure, lastLines, logSize, readLogSince, type AgentFailure } from '../agent/supervisor/agent-failure.ts';
import { execaRunner, installUnit, isSystemdPid1, removeUnit, renderUnit, unitNameFor } from '../agent/supervisor/systemd.ts';
import { parseGoDuration } from '../lib/duration.ts';
import { EXIT_USAGE, MeshError } from '../lib/errors.ts';
import { isLoopbackUrl, unbracket } from '../lib/net/host-port.ts';
import { VERSION } from '../control/server.ts';
import { ApiClient } from './api-client.ts';
import { removeRules, showRules } from '../iptables/apply.ts';
import { DEFAULT_DNS_PORT, DEFAULT_OUTBOUND_PORT, DEFAULT_PROXY_USER } from '../iptables/config.ts';
import { DEFAULT_METRICS_PORT } from '../config/agent-service.ts';
import { ensureProxyUser, removeProxyUser } from '../iptables/proxy-user.ts';
import { transparentRulesOf } from '../agent/transparent.ts';
import { readCaFile, serverUrl } from './target.ts';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { discoverPinnedRoots, verifiedRoots, type ServerTls } from '../lib/tls/server-trust.ts';
import { colour } from './output.ts';
import { fetchAdmin } from './admin-client.ts';
import { resolveAdminAddr } from '../agent/admin-addr.ts';
import { ACCESS_LOG_FLAG_DEFAULTS, accessLogConfig } from './access-log-flags.ts';
import { startOrExit } from './agent-process.ts';
import { advertiseAddrFlag, listenAddrFlag } from './join-addr-flags.ts';
import { checkAccessLogPath } from '../agent/telemetry/access-log-file.ts';
import { parsePortFlag } from './port-flag.ts';

interface JoinFlags {
  token?: string;
  nodeName?: string;
  advertiseAddr?: string;
  service: string[];
  servicesFile?: string;
  upstream: string[];
  dataDir: string;
  configDir: string;
  adminAddr: string;
  inboundAddr: string;
  metricsPort: string;
  foreground?: boolean;
  supervisor: string;
  heartbeatInterval: string;
  syncInterval: string;
  caHash?: string;
  caFile?: string;
  identity?: string;
  transparent?: boolean;
  redirectDns?: boolean;
  proxyUser: string;
  outboundPort: string;
  dnsPort: string;
  excludeInboundPort: string[];
  excludeOutboundPort: string[];
  excludeOutboundCidr: string[];
  insecureSkipVerify?: boolean;
  accessLog?: string;
  accessLogMaxSize?: string;
  accessLogKeep?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function addJoinCommands(program: Command): void {
  program
    .command('join')
    .description("put this host in the mesh: register its services and install a supervised agent")
    .argument('<server>', "the meshctl server's TLS API, host:port (https) or a URL")
    .option('--token <secret>', 'an agent token for this node and its services (or MESHCTL_TOKEN)')
    .option('--ca-hash <sha256:hex>', 'pin the mesh CA by its hash (printed by meshctl server at first start, and by meshctl ca show)')
    .option('--ca-file <file>', 'trust the mesh CA root in this PEM file instead of pinning a hash')
    .option('--insecure-skip-verify', 'send the token without verifying the server (never in production)')
    .option('--identity <service>', "the local service this host's calls go out as, when it runs several (an upstream's as= overrides it)")
    .option('--transparent', "send every app's TCP through the proxy with iptables (apps don't change; needs root)")
    .option('--redirect-dns', 'transparent mode: send DNS (port 53) to the agent, which answers <service>.mesh')
    .option('--proxy-user <name>', 'transparent mode: the system user the agent runs as (created when missing); its traffic is never redirected', DEFAULT_PROXY_USER)
    .option('--outbound-port <port>', "transparent mode: the proxy's outbound listener", String(DEFAULT_OUTBOUND_PORT))
    .option('--dns-port <port>', "transparent mode: the agent's DNS", String(DEFAULT_DNS_PORT))
    .option('--exclude-inbound-port <port>', 'transparent mode: an inbound port never redirected (22 and the agent\'s own always are) (repeatable)', collect, [])
    .option('--exclude-outbound-port <port>', 'transparent mode: an outbound destination port never redirected (repeatable)', collect, [])
    .option('--exclude-outbound-cidr <cidr>', 'transparent mode: an outbound destination range never redirected (repeatable)', collect, [])
    .option('--node-name <name>', 'this node\'s name (default: the hostname)')
    .option('--advertise-addr <ip>', 'the address other hosts reach this one at (default: the address that routes to the server)')
    .option('--service <spec>', 'a service on this host: NAME=PORT[,check=SPEC][,interval=10s][,timeout=5s][,tags=a|b][,meta=k:v][,weight=N] (repeatable)', collect, [])
    .option('--services-file <file>', 'services and upstreams in YAML or JSON')
    .option('--upstream <name:localport[,as=service]>', 'make 127.0.0.1:LOCALPORT reach service NAME, calling as a local service (as= is needed when the host runs several) (repeatable)', collect, [])
    .option('--data-dir <dir>', 'agent state: snapshot, pid files, logs', DEFAULT_DATA_DIR)
    .option('--config-dir <dir>', 'where agent.json (0600, with the token) is written', DEFAULT_CONFIG_DIR)
    .option('--admin-addr <host:port>', 'the agent admin API (several agents on one machine need different ones)', DEFAULT_ADMIN_ADDR)
    .option('--inbound-addr <host:port>', "the proxy's inbound listener, which other hosts' proxies connect to", `0.0.0.0:${DEFAULT_INBOUND_PORT}`)
    .option('--metrics-port <port>', "the agent's Prometheus metrics (GET /metrics) on 127.0.0.1 and the advertise address; 0 picks a free one", String(DEFAULT_METRICS_PORT))
    .option('--access-log <path|off>', 'where the JSON access log goes (default DATA_DIR/agent/access.log), or off')
    .option('--access-log-max-size <size>', 'start a new access log file past this size (e.g. 100MB, 512KB)', ACCESS_LOG_FLAG_DEFAULTS.maxSize)
    .option('--access-log-keep <n>', 'older access log files kept besides the current one', ACCESS_LOG_FLAG_DEFAULTS.keep)
    .option('--foreground', 'run the agent in this terminal instead of installing supervision')
    .option('--supervisor <kind>', 'auto (systemd where it is PID 1, else built-in), systemd or builtin', 'auto')
    .option('--heartbeat-interval <duration>', 'how often the agent tells the server it is alive', '10s')
    .option('--sync-interval <duration>', 'how often anti-entropy compares the catalog with this host', '30s')
    .addHelpText(
      'after',
      `
Check SPECs: http://127.0.0.1:8080/health (2xx passing, 429 warning, else critical;
redirects are not followed), tcp:127.0.0.1:5432, ttl:15s (the app refreshes it
with PUT http://127.0.0.1:15000/v1/agent/check/pass/service:NAME). Checks run
every 10s with a 5s timeout unless interval= and timeout= say otherwise.

Examples:
  meshctl join 10.0.0.1:8501 --ca-hash sha256:… --token $TOKEN --service web=8080,check=http://127.0.0.1:8080/health
  meshctl join 10.0.0.1:8501 --ca-hash sha256:… --token $TOKEN --service db=5432,check=tcp:127.0.0.1:5432,tags=primary --upstream web:9191
  meshctl join 10.0.0.1:8501 --ca-file /etc/meshctl/ca.pem --token $TOKEN --services-file /etc/meshctl/services.yaml
  meshctl join http://127.0.0.1:8500 --service web=8080          (a server on this host, or a --dev one)

join sends the token only to a server it has verified: one whose certificate
comes from the pinned CA (--ca-hash or --ca-file), or one on this host.

Running join again with other flags updates the registration in place.`,
    )
    .action(async (server: string, flags: JoinFlags) => join(server, flags));

  program
    .command('leave')
    .description('take this host out of the mesh: deregister, stop and remove the agent and everything join installed')
    .option('--data-dir <dir>', 'the data dir given to join', DEFAULT_DATA_DIR)
    .option('--config-dir <dir>', 'the config dir given to join', DEFAULT_CONFIG_DIR)
    .option('--force', 'remove local state even when the server cannot be reached to deregister')
    .addHelpText('after', '\nExamples:\n  meshctl leave\n  meshctl leave --data-dir /var/lib/meshctl-b --config-dir /etc/meshctl-b\n\nRunning it again when there is nothing left to remove does nothing.')
    .action(async (flags: { dataDir: string; configDir: string; force?: boolean }) => leave(flags));
}

function chooseSupervision(kind: string): 'systemd' | 'builtin' {
  if (kind === 'systemd' || kind === 'builtin') return kind;
  if (kind !== 'auto') throw new MeshError('MESH_E_USAGE', `unknown --supervisor "${kind}"`, { hint: 'use --supervisor auto, systemd or builtin' });
  return isSystemdPid1() ? 'systemd' : 'builtin';
}

/** The launcher of this build (bin/meshctl), which finds the runtime afresh at each start. */
function launcherPath(): string {
  const main = process.argv[1] ?? '';
  return realpathSync(joinPath(dirname(main), '..', '..', 'bin', 'meshctl'));
}

function duration(text: string, flag: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms < 100) throw new MeshError('MESH_E_USAGE', `${flag} "${text}" is not a duration of at least 100ms`, { hint: `use ${flag} 10s` });
  return ms;
}

/** The server to join: host:port means its TLS API. */
function joinUrl(server: string): string {
  return serverUrl(/^[a-z]+:\/\//i.test(server) ? server : `https://${server}`);
}


/**
 * How join trusts the server before it sends the token: the pinned CA's roots
 * (verified over TLS), or an explicit, loud opt-out. Refuses to send a token
 * off this host unverified.
 */
async function establishTrust(url: string, flags: JoinFlags): Promise<ServerTls | undefined> {
  if (flags.caHash && flags.caFile) throw new MeshError('MESH_E_USAGE', '--ca-hash and --ca-file both name the CA', { hint: 'give one of them' });
  const local = isLoopbackUrl(url);
  const warn = (what: string) => process.stderr.write(`${colour.yellow(`WARNING: ${what}; anyone between this host and ${url} can read the token and impersonate the server. Use --ca-hash in production.`)}\n`);
  if (url.startsWith('http:')) {
    if (flags.caHash || flags.caFile) throw new MeshError('MESH_E_USAGE', `${url} is plain HTTP, so there is no certificate to check against --ca-hash or --ca-file`, { hint: 'join the TLS API instead: host:8501' });
    if (!local && !flags.insecureSkipVerify) {
      throw new MeshError('MESH_E_USAGE', `refusing to send the token over plain HTTP to ${url}`, { hint: 'join the TLS API (host:8501) with --ca-hash, or pass --insecure-skip-verify for a throwaway --dev mesh' });
    }
    if (!local) warn('joining over plain HTTP');
    return undefined;
  }
  if (flags.caHash) return { rootsPem: await discoverPinnedRoots(url, flags.caHash) };
  if (flags.caFile) return { rootsPem: await verifiedRoots(url, readCaFile(flags.caFile, '--ca-file')) };
  if (!local && !flags.insecureSkipVerify) {
    throw new MeshError('MESH_E_USAGE', `refusing to send the token to ${url} without verifying the server`, {
      hint: 'pass --ca-hash sha256:… (printed by meshctl server at first start, or meshctl ca show) or --ca-file CA.pem; --insecure-skip-verify skips the check (not for production)',
    });
  }
  if (!local) warn('--insecure-skip-verify: the server is not verified');
  // On this host the token never crosses the network; the roots are taken as the server gives them.
  return { rootsPem: [], insecureSkipVerify: true };
}

/** Everything join can check before it touches the host. */
function buildConfig(server: string, flags: JoinFlags, token: string, advertiseAddr: string, tls?: ServerTls, proxy?: { uid: number; gid: number }): AgentConfig {
  let services: ServiceSpec[] = flags.service.map(parseServiceFlag);
  let upstreams: UpstreamSpec[] = flags.upstream.map(parseUpstreamFlag);
  if (flags.servicesFile) {
    const file = readServicesFile(flags.servicesFile);
    services = [...services, ...file.services];
    upstreams = [...upstreams, ...file.upstreams];
  }
  checkUnique(services, upstreams);
  const identity = flags.identity === undefined ? undefined : validateName(flags.identity, '--identity');
  resolveCallers(services, upstreams, identity);
  const config = {
    version: 1 as const,
    server: joinUrl(server),
    ...(tls?.insecureSkipVerify ? { insecureSkipVerify: true } : tls ? { serverCaPem: [...tls.rootsPem] } : {}),
    token,
    nodeName: validateName(flags.nodeName ?? hostname().split('.')[0] ?? 'node', '--node-name'),
    advertiseAddr: flags.advertiseAddr === undefined ? advertiseAddr : advertiseAddrFlag(flags.advertiseAddr),
    services,
    ...(identity ? { identity } : {}),
    upstreams,
    configDir: resolve(flags.configDir),
    dataDir: resolve(flags.dataDir),
    adminAddr: listenAddrFlag(flags.adminAddr, '--admin-addr', DEFAULT_ADMIN_ADDR),
    inboundAddr: listenAddrFlag(flags.inboundAddr, '--inbound-addr', `0.0.0.0:${DEFAULT_INBOUND_PORT}`),
    metricsPort: parsePortFlag(flags.metricsPort, '--metrics-port', { min: 0 }),
    heartbeatIntervalMs: duration(flags.heartbeatInterval, '--heartbeat-interval'),
    syncIntervalMs: duration(flags.syncInterval, '--sync-interval'),
    ...(flags.transparent ? { transparent: transparentSettings(flags, proxy) } : {}),
    ...accessLogConfig(flags),
  };
  const parsed = parseAgentConfig(config, 'from the join flags');
  // Every rule flag is checked now, before anything on the host changes.
  transparentRulesOf(parsed);
  return parsed;
}

/** The transparent block of the agent's config; before the proxy user exists, a stand-in uid for the checks. */
function transparentSettings(flags: JoinFlags, proxy: { uid: number; gid: number } = { uid: 65534, gid: 65534 }): NonNullable<AgentConfig['transparent']> {
  const port = (text: string, flag: string): number => parsePortFlag(text, flag, { min: 1 });
  if (flags.redirectDns && !flags.transparent) throw new MeshError('MESH_E_USAGE', '--redirect-dns needs --transparent', { hint: 'add --transparent' });
  return {
    proxyUser: flags.proxyUser,
    proxyUid: proxy.uid,
    proxyGid: proxy.gid,
    outboundPort: port(flags.outboundPort, '--outbound-port'),
    dnsPort: port(flags.dnsPort, '--dns-port'),
    redirectDns: flags.redirectDns === true,
    excludeInboundPorts: flags.excludeInboundPort.map((p) => port(p, '--exclude-inbound-port')),
    excludeOutboundPorts: flags.excludeOutboundPort.map((p) => port(p, '--exclude-outbound-port')),
    excludeOutboundCidrs: flags.excludeOutboundCidr,
  };
}

async function join(server: string, flags: JoinFlags): Promise<void> {
  const token = flags.token ?? process.env.MESHCTL_TOKEN ?? '';
  // Parse everything first: a usage error must leave the host untouched.
  const parsed = buildConfig(server, flags, token, flags.advertiseAddr ?? '0.0.0.0');
  // An access log the agent could not open would fail its start: refused now, with nothing of the check left.
  if (typeof parsed.accessLog === 'object' && parsed.accessLog.path) checkAccessLogPath(parsed.accessLog.path);
  const tls = await establishTrust(joinUrl(server), flags);
  const draft = buildConfig(server, flags, token, flags.advertiseAddr ?? '0.0.0.0', tls);
  const client = new ApiClient({ url: draft.server, token: token || undefined, source: 'flag', tls });
  await client.request('GET', '/v1/agent/self');
  const advertiseAddr = flags.advertiseAddr ?? (await routeAddressTo(draft.server));
  const previousConfig = readAgentConfigFile(resolve(flags.configDir));
  // The rules are the host's, not one agent's: a second transparent agent would replace the first one's.
  if (flags.transparent && !previousConfig?.transparent && (await showRules()).some((t) => t.lines.length > 0)) {
    throw new MeshError('MESH_E_USAGE', 'another meshctl agent on this host already runs in transparent mode (meshctl iptables show)', { hint: 'one transparent agent per host: join without --transparent, or leave the other first' });
  }
  // Transparent mode: the proxy user exists (or is made) before the config names its uid.
  // Every check that can fail comes before the one change made ahead of the config: the proxy user.
  const supervision: InstallRecord['supervision'] = flags.foreground ? 'foreground' : chooseSupervision(flags.supervisor);
  const previous = readInstallRecord(draft.dataDir);
  if (previous && previous.supervision !== 'foreground' && supervision !== 'foreground' && previous.supervision !== supervision) {
    throw new MeshError('MESH_E_USAGE', `this host joined with ${previous.supervision} supervision; join again with the same kind`, { hint: `pass --supervisor ${previous.supervision}, or run meshctl leave first` });
  }
  // A server named by host name is resolved now: the rule that lets its API port go direct needs an address.
  const serverHost = unbracket(new URL(draft.server).hostname);
  const serverAddress = flags.transparent && !isIP(serverHost) ? (await lookup(serverHost)).address : undefined;
  const proxyUser = flags.transparent ? await ensureProxyUser(flags.proxyUser) : undefined;
  const built = proxyUser ? buildConfig(server, flags, token, advertiseAddr, tls, proxyUser) : draft;
  if (built.transparent && serverAddress) built.transparent.serverAddress = serverAddress;
  const config = parseAgentConfig({ ...built, advertiseAddr }, 'from the join flags');

  const unitName = supervision === 'systemd' ? unitNameFor(config.configDir) : undefined;
  const unitText = unitName ? renderUnit({ exec: [launcherPath(), 'agent', '--config-dir', config.configDir], configDir: config.configDir, dataDir: config.dataDir, unitName }) : undefined;
  const record: InstallRecord = previous ? { ...previous, supervision, ...(unitName ? { unitName } : {}), ...(proxyUser?.created ? { createdProxyUser: flags.proxyUser } : {}) } : {
    ...(proxyUser?.created ? { createdProxyUser: flags.proxyUser } : {}),
    supervision,
    ...(unitName ? { unitName } : {}),
    createdConfigDir: !existsSync(config.configDir),
    createdDataDir: !existsSync(config.dataDir),
    createdRoots: [firstMissingAncestor(config.configDir), firstMissingAncestor(config.dataDir)].filter((p): p is string => p !== undefined),
    joinedAt: new Date().toISOString(),
  };
  try {
    writeAgentConfig(config);
    writeInstallRecord(config.dataDir, record);
  } catch (error) {
    rollback(config, record, !previous);
    if (record.createdProxyUser) await removeProxyUser(record.createdProxyUser).catch(() => undefined);
    throw new MeshError('MESH_E_DATA_DIR', `cannot write the agent's config or state: ${(error as Error).message}`, { hint: 'run as root, or choose --config-dir and --data-dir you can write' });
  }

  if (flags.foreground) {
    const agent = new Agent({ config, version: VERSION, log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`) });
    try {
      await startOrExit(agent);
    } catch (error) {
      // Nothing half-installed: a fresh join that could not start its agent takes back what it made.
      if (!previous) await undoFreshJoin(config, record, {});
      throw error;
    }
    process.stdout.write(`joined ${config.server} as node ${config.nodeName}; running the agent in the foreground (Ctrl-C stops it; services stay registered)\n`);
    await new Promise<void>((done) => {
      const stop = () => agent.stop().then(done, done);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return;
  }

  // The built-in supervisor's log, from here on: where an agent that cannot start says why.
  const agentLog = unitName ? undefined : { path: joinPath(logsDir(config.dataDir), 'agent.log'), offset: logSize(joinPath(logsDir(config.dataDir), 'agent.log')) };
  let action: string;
  try {
    if (unitName && unitText) {
      const existed = previous !== undefined;
      const { changed } = await installUnit(unitText, unitName);
      // A transparent agent is the proxy user by now: it can neither reread agent.json (root's) nor change
      // iptables, so it is restarted (as root, it applies the new rules first) rather than reloaded.
      const restart = changed || config.transparent !== undefined || previousConfig?.transparent !== undefined;
      if (existed) await execaRunner('systemctl', [restart ? 'restart' : 'reload', unitName]);
      action = existed ? `${restart ? 'restarted' : 'reloaded'} ${unitName}` : `installed, enabled and started ${unitName}`;
    } else if ((config.transparent || previousConfig?.transparent) && builtinSupervisorPid(config.dataDir)) {
      await stopBuiltinSupervisor(config.dataDir);
      if (!config.transparent) await removeRules();
      const pid = await startBuiltinSupervisor(config.configDir, config.dataDir);
      action = `restarted the agent (pid ${pid}) so that it applies the new rules`;
    } else if (builtinSupervisorPid(config.dataDir)) {
      reloadBuiltinSupervisor(config.dataDir);
      action = 'updated the running agent';
    } else {
      const pid = await startBuiltinSupervisor(config.configDir, config.dataDir);
      action = `started the built-in supervisor (pid ${pid})`;
    }
    await waitForRegistration(config, { fresh: !previous, agentLog, unitName });
  } catch (error) {
    if (!previous) await undoFreshJoin(config, record, unitName ? { unitName } : { supervisor: true });
    throw error;
  }

  const out = process.stdout;
  out.write(`${colour.green('joined')} ${config.server} as node ${config.nodeName} (${config.advertiseAddr})\n`);
  for (const s of config.services) out.write(`  service ${s.name}${s.id !== s.name ? ` (id ${s.id})` : ''} on port ${s.port}: ${describeCheck(s.check)}\n`);
  for (const u of config.upstreams) out.write(`  upstream ${u.name} on 127.0.0.1:${u.localPort}${callerOf(config.services, u, config.identity) ? `, calling as ${callerOf(config.services, u, config.identity)}` : ''}\n`);
  out.write(`  ${action}; logs ${unitName ? `in journalctl -u ${unitName}` : `in ${logsDir(config.dataDir)}`}\n  config ${configPath(config.configDir)} (0600), state ${config.dataDir}, admin API ${config.adminAddr}\n`);
}

interface RegistrationWatch {
  /** A fresh join: on failure everything is removed, the agent's log too, so messages carry what it said. */
  fresh: boolean;
  /** The built-in supervisor's agent.log and its size before join started the agent. */
  agentLog: { path: string; offset: number } | undefined;
  unitName: string | undefined;
}

const NO_ANSWER = 'the agent did not answer';

/** How long join waits for the agent's error line once the supervisor has noted its exit (the pipe drains after the exit). */
const ERROR_LINE_GRACE_MS = 1000;

/**
 * Waits until the agent has registered this config, or reports why it could
 * not: at once when the agent exits (with the agent's own error), else after 20 s.
 */
async function waitForRegistration(config: AgentConfig, watch: RegistrationWatch): Promise<void> {
  const deadline = Date.now() + 20_000;
  const wanted = configDigest(config);
  let last = NO_ANSWER;
  let exitSeenAt: number | undefined;
  const logText = () => (watch.agentLog ? readLogSince(watch.agentLog.path, watch.agentLog.offset) : '');
  while (Date.now() < deadline) {
    const status = await fetchAdmin<{ syncedConfig?: string; lastError?: string }>(resolveAdminAddr(config), '/v1/status').catch(() => undefined);
    if (status?.syncedConfig === wanted) return;
    if (status?.lastError) {
      last = status.lastError;
      if (/refused|Permission denied|ACL not found/.test(last)) break;
    }
    const text = logText();
    const failure = agentFailure(text);
    if (failure) {
      exitSeenAt ??= Date.now();
      if (failure.error !== undefined || Date.now() - exitSeenAt > ERROR_LINE_GRACE_MS) throw startFailure(failure, text, watch);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // With no answer at all, the end of its log is the only clue (the log itself goes with the rollback).
  const clue = watch.fresh && last === NO_ANSWER ? saidLast(logText()) : '';
  throw new MeshError('MESH_E_INTERNAL', `the agent could not register: ${last}${clue}`, { hint: whereToLook(watch) });
}

/** The agent exited while join waited: its own error (a usage error stays one), or how it ended and its last lines. */
function startFailure(failure: AgentFailure, text: string, watch: RegistrationWatch): MeshError {
  const why = failure.error ?? `it exited (${failure.status}) without saying why${watch.fresh ? saidLast(text) : ''}`;
  return new MeshError(failure.exitCode === EXIT_USAGE ? 'MESH_E_USAGE' : 'MESH_E_INTERNAL', `the agent could not start: ${why}`, { hint: whereToLook(watch) });
}

/** The end of the agent's log, quoted in the message when the log is about to be removed with everything else. */
function saidLast(text: string): string {
  const lines = lastLines(text, 3);
  return lines.length > 0 ? `; its log ended with: ${lines.map((line) => JSON.stringify(line)).join(' ')}` : '';
}

/** Never a file the rollback removes: for a fresh join, what is left is nothing. */
function whereToLook(watch: RegistrationWatch): string {
  if (watch.unitName) return `see journalctl -u ${watch.unitName}${watch.fresh ? '; nothing was left installed' : ''}`;
  if (watch.fresh) return 'nothing was left installed; fix that and run meshctl join again';
  return `see ${watch.agentLog?.path ?? 'the agent log'}`;
}

/**
 * Takes back a fresh join whose agent did not come up: what runs it (its unit
 * or the built-in supervisor; a foreground agent ran in this process), its
 * iptables rules (a transparent agent may have applied them before failing),
 * the proxy user it made, then its files. Every step is tried: the error the
 * join reports is the one that made it fail.
 */
async function undoFreshJoin(config: AgentConfig, record: InstallRecord, started: { unitName?: string; supervisor?: boolean }): Promise<void> {
  if (started.unitName) await removeUnit(started.unitName).catch(() => undefined);
  else if (started.supervisor) await stopBuiltinSupervisor(config.dataDir).catch(() => undefined);
  if (config.transparent) await removeRules().catch(() => undefined);
  if (record.createdProxyUser) await removeProxyUser(record.createdProxyUser).catch(() => undefined);
  try {
    rollback(config, record, true);
  } catch {
    // The original error is the one to report.
  }
}

function rollback(config: AgentConfig, record: InstallRecord, fresh: boolean): void {
  if (!fresh) return;
  if (record.createdDataDir) rmSync(config.dataDir, { recursive: true, force: true });
  rmSync(configPath(config.configDir), { force: true });
  if (record.createdConfigDir) rmSync(config.configDir, { recursive: true, force: true });
  removeEmptyRoots(record);
}

/** Removes the parent dirs join created, when nothing else has been put in them. */
function removeEmptyRoots(record: InstallRecord): void {
  for (const root of record.createdRoots ?? []) {
    if (existsSync(root) && isEmptyTree(root)) rmSync(root, { recursive: true, force: true });
  }
}

function isEmptyTree(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).every((entry) => entry.isDirectory() && isEmptyTree(joinPath(dir, entry.name)));
}

/** The local address the kernel would use to reach the server: what other hosts can reach too. */
function routeAddressTo(server: string): Promise<string> {
  const url = new URL(server);
  const host = unbracket(url.hostname);
  return new Promise((resolveAddr) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', () => {
      socket.close();
      resolveAddr(firstIpv4());
    });
    socket.connect(Number(url.port || 8500), host, () => {
      const address = socket.address().address;
      socket.close();
      resolveAddr(address);
    });
  });
}

function firstIpv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const item of list ?? []) if (item.family === 'IPv4' && !item.internal) return item.address;
  }
  return '127.0.0.1';
}

async function leave(flags: { dataDir: string; configDir: string; force?: boolean }): Promise<void> {
  const configDir = resolve(flags.configDir);
  const config = readAgentConfigFile(configDir);
  // The data dir join recorded wins over the flag: leave must never remove a directory of someone else's.
  const dataDir = config?.dataDir ?? resolve(flags.dataDir);
  const record = readInstallRecord(dataDir);
  if (!config && !record) {
    process.stdout.write(`nothing to do: this host has not joined (no ${configPath(configDir)}, no state in ${dataDir})\n`);
    return;
  }
  const done: string[] = [];
  let client: ApiClient | undefined;
  if (config) {
    client = new ApiClient({ url: config.server, token: config.token || undefined, source: 'agent-config', tls: serverTlsOf(config) });
    try {
      await client.request('GET', '/v1/status/leader');
    } catch (error) {
      if (!flags.force) {
        throw new MeshError('MESH_E_SERVER_UNREACHABLE', `cannot reach the server ${config.server} to deregister node ${config.nodeName}; nothing was removed`, {
          hint: 'run meshctl leave again when the server is back, or pass --force to remove local state and leave the catalog entry to expire',
        });
      }
      client = undefined;
    }
  }
  // Stop the agent first, so its anti-entropy cannot register the node again.
  if (record?.unitName) {
    if ((await removeUnit(record.unitName)).removed) done.push(`stopped, disabled and removed ${record.unitName}`);
  }
  if (await stopBuiltinSupervisor(dataDir)) done.push('stopped the agent and its supervisor');
  // The agent is stopped: the rules come out now (their redirects would otherwise refuse every connection).
  if (config?.transparent) {
    const { removed } = await removeRules();
    done.push(`removed meshctl's iptables rules (${removed})`);
  }
  if (record?.createdProxyUser) {
    // Another agent on this machine may still run as it: then it stays, and leave says so.
    const gone = await removeProxyUser(record.createdProxyUser).then(() => true, () => false);
    done.push(gone ? `removed the user ${record.createdProxyUser}` : `kept the user ${record.createdProxyUser} (still in use; userdel it when nothing runs as it)`);
  }
  if (config && client) {
    await client.request('PUT', '/v1/catalog/deregister', { Node: config.nodeName });
    done.push(`deregistered node ${config.nodeName} and its services`);
  } else if (config) {
    done.push(`did NOT deregister node ${config.nodeName} (server unreachable, --force)`);
  }
  if (existsSync(configPath(configDir))) {
    rmSync(configPath(configDir), { force: true });
    done.push(`removed ${configPath(configDir)}`);
  }
  if (record?.createdConfigDir && existsSync(configDir) && readdirSync(configDir).length === 0) rmdirSync(configDir);
  if (existsSync(dataDir) && record?.createdDataDir === true) {
    rmSync(dataDir, { recursive: true, force: true });
    done.push(`removed ${dataDir}`);
  } else if (existsSync(dataDir)) {
    for (const file of ['install.json', 'agent', 'supervisor.pid', 'agent.pid', 'logs']) rmSync(`${dataDir}/${file}`, { recursive: true, force: true });
    done.push(`removed meshctl's files from ${dataDir}`);
  }
  if (record) removeEmptyRoots(record);
  process.stdout.write(`${colour.green('left')} the mesh:\n${done.map((line) => `  ${line}\n`).join('')}`);
}
