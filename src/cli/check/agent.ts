// The agent checks after a join: the agent answers on its admin API, its
// proxy is ready, it reaches the server, each service's leaf is valid and
// chains to the server's roots, each service is registered and passing in
// the catalog, and transparent mode's rules are in place when it was asked
// for. The agent's config says where everything is.

import type { AgentConfig } from '../../agent/config/agent-config.ts';
import type { ShownTable } from '../../iptables/apply.ts';
import type { Target } from '../target.ts';
import { jsonOf, type HttpGet } from './http.ts';
import { chainsTo, evaluateLeaf, type RootSet } from './leaf.ts';
import { failed, named, passed, warned, type CheckResult, type Verdict } from './result.ts';
import { evaluateRegistration, type HealthEntry } from './registration.ts';
import { evaluateRules } from './rules.ts';

export interface AgentStatus {
  pid?: number;
  version?: string;
  ready?: boolean;
  serverReachable?: boolean;
  registered?: boolean;
  lastError?: string;
  certificates?: Array<{ service: string; notBefore?: string; notAfter: string; certPem?: string; chainPem?: string[] }>;
}

export interface AgentCheckDeps {
  readonly get: HttpGet;
  readonly now: () => number;
  readonly getuid: () => number;
  /** meshctl's installed rules (root only). */
  readonly showRules: () => Promise<ShownTable[]>;
}

const result = (name: string, verdict: Verdict) => named('agent', name, verdict);

export async function runAgentChecks(config: AgentConfig, adminAddr: string, target: Target, deps: AgentCheckDeps): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const admin = await deps.get(`http://${adminAddr}/v1/status`);
  const status = jsonOf<AgentStatus>(admin);
  if (admin.kind === 'error' || admin.status !== 200 || !status) {
    const why = admin.kind === 'error' ? admin.code : `HTTP ${admin.status}`;
    results.push(result('agent running', failed(`no answer from the admin API on ${adminAddr}: ${why}`, `its supervisor restarts it: see systemctl status meshctl-agent or the logs under ${config.dataDir}; meshctl join again reinstalls it`)));
    return results;
  }
  results.push(result('agent running', passed(`node ${config.nodeName}, pid ${status.pid ?? '?'}${status.version ? `, version ${status.version}` : ''}`)));
  const ready = await deps.get(`http://${adminAddr}/ready`);
  results.push(result('proxy ready', ready.kind === 'response' && ready.status === 200
    ? passed(`inbound on ${config.inboundAddr}`)
    : failed(`not ready: ${ready.kind === 'response' ? ready.body.trim().replace(/^not ready: /, '') : ready.code}`, 'the agent is ready once registered with the server (or serving a saved snapshot): see meshctl status')));
  results.push(result('agent connected to the server', status.serverReachable && status.registered
    ? passed(config.server)
    : warned(`the agent cannot sync with ${config.server}${status.lastError ? `: ${status.lastError}` : ''}`, 'it keeps serving from its last snapshot; check the server runs and the agent token is valid (meshctl status)')));

  const roots = await serverRoots(target, deps);
  for (const cert of status.certificates ?? []) {
    const chains = roots && cert.certPem ? chainsTo(cert.certPem, cert.chainPem ?? [], roots) : undefined;
    results.push(result(`certificate valid: ${cert.service}`, evaluateLeaf({ service: cert.service, notBefore: cert.notBefore ?? '', notAfter: cert.notAfter, chainsToRoots: chains }, deps.now())));
  }

  const headers: Record<string, string> = target.token ? { 'X-Consul-Token': target.token } : {};
  for (const service of config.services) {
    const health = await deps.get(`${target.url}/v1/health/service/${encodeURIComponent(service.name)}`, { tls: target.tls, headers });
    const entries = health.kind === 'response' && health.status === 200 ? jsonOf<HealthEntry[]>(health) : undefined;
    const why = health.kind === 'error' ? health.code : `HTTP ${health.status} ${health.body.trim().slice(0, 80)}`;
    results.push(result(`service registered and passing: ${service.name}`, entries ? evaluateRegistration(entries, config.nodeName, service.id) : warned(`could not ask the server: ${why}`, 'fix the server checks above, then run meshctl check again')));
  }

  if (config.transparent) results.push(result('transparent rules present', await checkRules(deps)));
  return results;
}

/** The server's current roots (public), or undefined when it does not answer. */
async function serverRoots(target: Target, deps: AgentCheckDeps): Promise<RootSet[] | undefined> {
  const answer = jsonOf<{ Roots?: Array<{ RootCert: string; IntermediateCerts?: string[] }> }>(await deps.get(`${target.url}/v1/connect/ca/roots`, { tls: target.tls }));
  if (!answer?.Roots?.length) return undefined;
  return answer.Roots.map((r) => ({ rootPem: r.RootCert, intermediatesPem: r.IntermediateCerts ?? [] }));
}

async function checkRules(deps: AgentCheckDeps): Promise<Verdict> {
  if (deps.getuid() !== 0) return warned('the agent joined with --transparent, but only root can read the rules', 'run meshctl check with sudo');
  try {
    return evaluateRules(await deps.showRules());
  } catch (error) {
    return failed(`cannot read the rules: ${(error as Error).message}`, 'see meshctl iptables show');
  }
}
