// `meshctl check [--pre] [--json]`: diagnostics before and after a join,
// like `linkerd check`. This file decides which groups run and wires the
// real HTTP, iptables and port probes into the checks (src/cli/check/*).

import type { Command } from 'commander';
import { DEFAULT_ADMIN_ADDR, DEFAULT_CONFIG_DIR, DEFAULT_DNS_PORT, DEFAULT_INBOUND_PORT, DEFAULT_OUTBOUND_PORT, listenAddrOf, readAgentConfigFile, type AgentConfig } from '../agent/config/agent-config.ts';
import { resolveAdminAddr } from '../agent/admin-addr.ts';
import { DEFAULT_METRICS_PORT } from '../config/agent-service.ts';
import { showRules } from '../iptables/apply.ts';
import { execaRunner } from '../iptables/runner.ts';
import { systemClock } from '../lib/clock.ts';
import { MeshError } from '../lib/errors.ts';
import { withTarget, type TargetFlags } from './common.ts';
import { colour, printJson } from './output.ts';
import { parseHostPortFlag, parsePortFlag } from './port-flag.ts';
import { readAgentConfig, resolveTarget } from './target.ts';
import { runAgentChecks } from './check/agent.ts';
import { checksOk, formatReport, reportJson } from './check/format.ts';
import { checkIptables, evaluateNodeVersion } from './check/host.ts';
import { makeHttpGet } from './check/http.ts';
import { evaluatePorts, probePort, type PortWanted } from './check/ports.ts';
import { failed, named, warned, type CheckResult } from './check/result.ts';
import { runServerChecks } from './check/server.ts';

interface CheckFlags extends TargetFlags {
  pre?: boolean;
  json?: boolean;
  configDir: string;
  transparent?: boolean;
  adminAddr: string;
  inboundAddr: string;
  outboundPort: string;
  dnsPort: string;
  metricsPort: string;
}

const EXAMPLES = `
Examples:
  meshctl check --pre --server 10.0.0.1:8500 --token $TOKEN
  sudo meshctl check --pre --transparent
  meshctl check
  meshctl check --json

Prints √ for a pass, × for a failure and ‼ for a warning, with a hint under
each × and ‼. Exits 0 when nothing failed (warnings allowed), 1 otherwise.`;

export function addCheckCommand(program: Command): void {
  withTarget(
    program
      .command('check')
      .description("diagnostics before and after a join: the server, this host, and the joined agent (like linkerd check)")
      .option('--pre', 'only the checks before a join: the server, Node.js, iptables and free ports')
      .option('--json', 'print JSON: { checks: [{ group, name, status, detail, hint }], ok }')
      .option('--config-dir <dir>', 'the config dir given to join', DEFAULT_CONFIG_DIR)
      .option('--transparent', 'transparent mode is meant (join --transparent): iptables problems fail instead of warning')
      .option('--admin-addr <host:port>', 'the admin address join will use (ports check)', DEFAULT_ADMIN_ADDR)
      .option('--inbound-addr <host:port>', 'the inbound address join will use (ports check)', `0.0.0.0:${DEFAULT_INBOUND_PORT}`)
      .option('--outbound-port <port>', 'the outbound port join --transparent will use (ports check)', String(DEFAULT_OUTBOUND_PORT))
      .option('--dns-port <port>', 'the DNS port join --transparent will use (ports check)', String(DEFAULT_DNS_PORT))
      .option('--metrics-port <port>', "the agent's metrics port (ports check)", String(DEFAULT_METRICS_PORT))
      .addHelpText('after', EXAMPLES),
  ).action(async (flags: CheckFlags) => {
    const results = await runChecks(flags);
    if (flags.json) printJson(reportJson(results));
    else process.stdout.write(formatReport(results, colour));
    if (!checksOk(results)) {
      const count = results.filter((r) => r.status === 'fail').length;
      throw new MeshError('MESH_E_CHECK_FAILED', `${count} check${count === 1 ? '' : 's'} failed`, { hint: flags.json ? 'see the checks with status "fail"' : 'each × line above says what to fix' });
    }
  });
}

async function runChecks(flags: CheckFlags): Promise<CheckResult[]> {
  // A bad flag is a usage error before anything is asked of the server.
  const portFlags = portFlagsOf(flags);
  const env = { ...process.env, MESHCTL_CONFIG_DIR: flags.configDir };
  const target = resolveTarget({ flagServer: flags.server, flagToken: flags.token, env, agentConfig: readAgentConfig(env) });
  const get = makeHttpGet(systemClock);
  const results = await runServerChecks(target, { get });

  let config: AgentConfig | undefined;
  let configProblem: CheckResult | undefined;
  try {
    config = readAgentConfigFile(flags.configDir);
  } catch (error) {
    const e = error as MeshError;
    configProblem = named('agent', 'agent config readable', (flags.pre ? warned : failed)(e.message, e.hint ?? 'run meshctl join again'));
  }

  results.push(named('host', 'Node.js version', evaluateNodeVersion(process.version)));
  const getuid = process.getuid ?? (() => 0);
  const transparent = Boolean(flags.transparent || config?.transparent);
  results.push(named('host', 'iptables backend usable', await checkIptables({ run: execaRunner, getuid, transparent })));

  const adminAddr = config ? resolveAdminAddr(config) : undefined;
  const agentUp = adminAddr !== undefined && (await get(`http://${adminAddr}/ready`, { timeoutMs: 2_000 })).kind === 'response';
  // A running agent holds the ports itself; they matter before a join, or when the agent is down.
  if (!agentUp) results.push(named('host', 'agent ports free', evaluatePorts(await probeAll(portsWanted(flags, portFlags, config)))));

  if (flags.pre) return results;
  if (configProblem) return [...results, configProblem];
  if (!config || adminAddr === undefined) {
    return [...results, named('agent', 'host joined', failed(`no agent config in ${flags.configDir}`, 'run meshctl join first, or meshctl check --pre for the checks before a join (--config-dir if join was given one)'))];
  }
  return [...results, ...(await runAgentChecks(config, adminAddr, target, { get, now: systemClock.now, getuid, showRules: () => showRules() }))];
}

type PortFlags = ReturnType<typeof portFlagsOf>;

function portFlagsOf(flags: CheckFlags) {
  return {
    admin: parseHostPortFlag(flags.adminAddr, '--admin-addr', DEFAULT_ADMIN_ADDR),
    inbound: parseHostPortFlag(flags.inboundAddr, '--inbound-addr', `0.0.0.0:${DEFAULT_INBOUND_PORT}`),
    outbound: parsePortFlag(flags.outboundPort, '--outbound-port', { min: 1 }),
    dns: parsePortFlag(flags.dnsPort, '--dns-port', { min: 1 }),
    metrics: parsePortFlag(flags.metricsPort, '--metrics-port', { min: 0 }),
  };
}

/**
 * What the agent will bind: join's flags before a join, the agent's config after.
 * The flags are read as join reads them (src/cli/port-flag.ts), so check refuses what join would.
 */
function portsWanted(flags: CheckFlags, given: PortFlags, config: AgentConfig | undefined): PortWanted[] {
  const transparent = config ? config.transparent !== undefined : Boolean(flags.transparent);
  const outbound = config?.transparent?.outboundPort ?? given.outbound;
  const dns = config?.transparent?.dnsPort ?? given.dns;
  // agent.json's addresses passed its schema, which checks them as join checks its flags.
  const admin = config ? listenAddrOf(config.adminAddr) : given.admin;
  const inbound = config ? listenAddrOf(config.inboundAddr) : given.inbound;
  // A config written before --metrics-port existed means the default.
  const metrics = config ? (config.metricsPort ?? DEFAULT_METRICS_PORT) : given.metrics;
  const wanted: PortWanted[] = [
    { ...admin, what: 'admin API', flag: '--admin-addr', proto: 'tcp', needed: true },
    { host: '0.0.0.0', port: metrics, what: 'metrics', flag: '--metrics-port', proto: 'tcp', needed: true },
    { ...inbound, what: 'proxy inbound', flag: '--inbound-addr', proto: 'tcp', needed: true },
    { host: '127.0.0.1', port: outbound, what: 'proxy outbound', flag: '--outbound-port', proto: 'tcp', needed: transparent },
    { host: '127.0.0.1', port: dns, what: 'DNS', flag: '--dns-port', proto: 'udp', needed: transparent },
    { host: '127.0.0.1', port: dns, what: 'DNS', flag: '--dns-port', proto: 'tcp', needed: transparent },
  ];
  // Port 0 lets the kernel choose: always free.
  return wanted.filter((w) => w.port !== 0);
}

async function probeAll(wanted: readonly PortWanted[]) {
  return Promise.all(wanted.map(async (w) => ({ ...w, state: await probePort(w.host, w.port, w.proto) })));
}
