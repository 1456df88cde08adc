// The server checks: the server this host's commands target answers, is a
// meshctl server with a leader, is verified over TLS, knows the token, and
// keeps a clock close to this host's. A server that cannot be reached or
// verified ends the group: every later check would fail the same way.

import { SOURCE_TEXT, trustWayOut, type Target } from '../target.ts';
import { jsonOf, type HttpGet } from './http.ts';
import { failed, named, passed, warned, type CheckResult, type Verdict } from './result.ts';
import { evaluateSkew } from './skew.ts';
import { isLoopbackUrl } from '../../lib/net/host-port.ts';

export interface ServerCheckDeps {
  readonly get: HttpGet;
}

const result = (name: string, verdict: Verdict) => named('server', name, verdict);

export async function runServerChecks(target: Target, deps: ServerCheckDeps): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const secure = target.url.startsWith('https:');
  // /v1/status/leader is open to all (as in Consul): reachability does not depend on the token.
  const leader = await deps.get(`${target.url}/v1/status/leader`, { tls: target.tls });
  if (leader.kind === 'error' && !leader.tls) {
    results.push(result('server reachable', failed(`no answer from ${target.url} (${SOURCE_TEXT[target.source]}): ${leader.code}`, 'check that `meshctl server` runs there and the address is right: pass --server ADDR or set MESHCTL_SERVER')));
    return results;
  }
  results.push(result('server reachable', passed(`${target.url}, ${SOURCE_TEXT[target.source]}`)));
  if (secure) {
    results.push(result('server TLS verified', evaluateTls(target, leader.kind === 'error' ? leader.code : undefined)));
    if (leader.kind === 'error') return results;
  } else if (!isLoopbackUrl(target.url)) {
    results.push(result('server TLS verified', warned(`${target.url} is plain HTTP off this host: the token crosses the network in clear`, `use the server's TLS API (https://HOST:8501) with MESHCTL_CA_FILE, ${trustWayOut(target)}`)));
  }
  if (leader.kind === 'error') return results;
  const name = jsonOf<unknown>(leader);
  if (leader.status !== 200 || typeof name !== 'string') {
    results.push(result('server API answers', failed(`GET /v1/status/leader answered ${leader.status}: ${leader.body.trim().slice(0, 120) || '(empty)'}`, 'this address does not serve the meshctl API: check the port (8500 plain, 8501 TLS)')));
    return results;
  }
  if (name === '') results.push(result('server API answers', failed('the server reports no leader', 'the server is starting or its store is failing: see its log')));
  else results.push(result('server API answers', passed(`leader ${name}${await versionOf(target, deps)}`)));
  results.push(result('token valid', await checkToken(target, deps)));
  results.push(result('clock skew', evaluateSkew({ sentAt: leader.sentAt, receivedAt: leader.receivedAt, serverDate: leader.date })));
  return results;
}

function evaluateTls(target: Target, error: string | undefined): Verdict {
  if (error !== undefined) {
    const trusted = target.tls ? (target.source === 'agent-config' ? "the joined agent's CA roots" : 'MESHCTL_CA_FILE') : 'the system CAs';
    return failed(`the server's certificate does not verify against ${trusted}: ${error}`, `set MESHCTL_CA_FILE to the mesh CA root (meshctl ca show --json on the server), ${trustWayOut(target)}`);
  }
  if (target.tls?.insecureSkipVerify) return warned("not verified: the agent joined with --insecure-skip-verify", 'join again with --ca-hash (printed by meshctl server and meshctl ca show)');
  return passed(target.tls ? `verified against ${target.tls.rootsPem.length} mesh CA root${target.tls.rootsPem.length === 1 ? '' : 's'}` : 'verified against the system CAs');
}

/** " (version X)" when the token may read /v1/agent/self; nothing otherwise (the version is a nicety). */
async function versionOf(target: Target, deps: ServerCheckDeps): Promise<string> {
  if (!target.token) return '';
  const self = jsonOf<{ Config?: { Version?: unknown } }>(await deps.get(`${target.url}/v1/agent/self`, { tls: target.tls, headers: { 'X-Consul-Token': target.token } }));
  return typeof self?.Config?.Version === 'string' ? `, version ${self.Config.Version}` : '';
}

async function checkToken(target: Target, deps: ServerCheckDeps): Promise<Verdict> {
  if (!target.token) return warned('no token given: most commands will be refused', 'pass --token or set MESHCTL_TOKEN (a --dev server needs none)');
  const self = await deps.get(`${target.url}/v1/acl/token/self`, { tls: target.tls, headers: { 'X-Consul-Token': target.token } });
  if (self.kind === 'error') return failed(`the server did not answer GET /v1/acl/token/self: ${self.code}`, 'run meshctl check again; if it persists, see the server log');
  const reason = self.body.trim();
  if (self.status === 403) {
    return failed(`the server does not know this token (${reason || 'HTTP 403'})`, 'create one on the server (meshctl token create --policy read) and pass it with --token or MESHCTL_TOKEN');
  }
  const token = jsonOf<{ AccessorID?: string; MeshPolicy?: string; Policies?: Array<{ Name?: string }> }>(self);
  if (self.status !== 200 || !token) return failed(`GET /v1/acl/token/self answered ${self.status}: ${reason.slice(0, 120)}`, 'see the server log');
  // MeshPolicy is meshctl's own; a Consul server names its policies instead.
  const policy = token.MeshPolicy ?? (token.Policies ?? []).map((p) => p.Name).filter(Boolean).join(', ');
  return passed(`accessor ${String(token.AccessorID ?? '').slice(0, 8)}…${policy ? `, policy ${policy}` : ''}`);
}

