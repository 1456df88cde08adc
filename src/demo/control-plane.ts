// The demo's control plane, set up the way the README tells an operator to
// set up a real one, so the demo does not teach a mesh with ACLs off:
// - `meshctl server` as startServer runs it without --dev: ACLs on, the
//   management token made at first start in DATA_DIR/management.token (0600),
//   plain HTTP on 127.0.0.1 for the tools on this machine (the demo's own CLI
//   calls, the dashboard, the user's terminal), the TLS API on the address the
//   hosts reach, whose CA they pin by its hash at join;
// - the data dir is in the run's temp dir, so it goes with it;
// - every other token made with `meshctl token create` and the management
//   token, as an operator would: an agent token per host (its node and the
//   services it registers), and a read-only one for the dashboard and the
//   user's `meshctl services`.

import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../control/server.ts';
import { MeshError } from '../lib/errors.ts';
import type { DemoHosts } from './hosts.ts';
import { agentTokenArgs, meshCommands, readTokenArgs, type HostPlan, type JoinTarget } from './plan.ts';
import { tail } from './procs.ts';

export interface DemoControlPlane {
  readonly server: RunningServer;
  /** http://127.0.0.1:PORT: plain HTTP, for the tools on this machine. */
  readonly url: string;
  /** The TLS API and the CA pin the hosts join with. */
  readonly join: JoinTarget;
  /** The bootstrap management token and the 0600 file it is in. */
  readonly managementToken: string;
  readonly managementTokenFile: string;
}

export interface DemoTokens {
  /** The agent token of each host, by node name. */
  readonly agents: ReadonlyMap<string, string>;
  /** The read-only token: the dashboard's, and the one the demo prints. */
  readonly read: string;
}

/** Starts the server in this process; its state in TMP/server. */
export async function startControlPlane(hosts: DemoHosts): Promise<DemoControlPlane> {
  const logFile = join(hosts.tmpDir, 'server.log');
  const server = await startServer({
    dataDir: join(hosts.tmpDir, 'server'),
    httpAddr: '127.0.0.1:0',
    httpsAddr: `${hosts.serverHost}:0`,
    datacenter: 'dc1',
    nodeName: 'demo-server',
    dev: false,
    log: (line) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`),
  });
  // A fresh data dir: the server always bootstraps, and says so; without both, nothing could write.
  if (!server.bootstrapSecret || !server.managementTokenFile) {
    await server.close();
    throw new MeshError('MESH_E_DEMO', `the demo's server did not bootstrap its management token (data dir ${join(hosts.tmpDir, 'server')})`, { hint: 'run meshctl demo again' });
  }
  return {
    server,
    url: `http://${server.address}`,
    join: { addr: server.httpsAddress, caHash: server.caHash },
    managementToken: server.bootstrapSecret,
    managementTokenFile: server.managementTokenFile,
  };
}

/** The environment of the demo's own CLI calls: this server, the given token, never an agent config of this machine. */
function cliEnv(hosts: DemoHosts, url: string, token: string): NodeJS.ProcessEnv {
  return { ...process.env, MESHCTL_SERVER: url, MESHCTL_TOKEN: token, MESHCTL_CONFIG_DIR: join(hosts.tmpDir, 'no-agent'), NO_COLOR: '1' };
}

/** Runs one meshctl command to completion; its output (stdout and stderr), or a MeshError naming the command. */
async function runMeshctl(hosts: DemoHosts, meshctl: readonly string[], name: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const proc = hosts.procs.spawn(name, [...meshctl, ...args], { env, oneShot: true });
  const exit = await proc.exited;
  if (exit.code !== 0) {
    throw new MeshError('MESH_E_DEMO', `meshctl ${args.join(' ')} failed (${exit.signal ?? `exit ${exit.code}`}):\n${tail(proc.logFile)}`, { hint: 'the control plane refused the demo\'s request; run meshctl demo again' });
  }
  const output = readFileSync(proc.logFile, 'utf8');
  rmSync(proc.logFile, { force: true });
  return output;
}

/** The agent tokens and the read-only one, made with `meshctl token create` and the management token (the commands are printed, not the secrets). */
export async function createTokens(hosts: DemoHosts, plan: readonly HostPlan[], controlPlane: DemoControlPlane, meshctl: readonly string[], say: (line: string) => void): Promise<DemoTokens> {
  const env = cliEnv(hosts, controlPlane.url, controlPlane.managementToken);
  const make = async (name: string, args: string[]): Promise<string> => {
    const output = await runMeshctl(hosts, meshctl, name, args, env);
    const secret = tokenSecretOf(output);
    if (!secret) throw new MeshError('MESH_E_DEMO', `meshctl ${args.join(' ')} printed no SecretID: ${output.slice(0, 200)}`, { hint: 'run meshctl demo again' });
    return secret;
  };
  // At once (each is a CLI start, about half a second), printed in order once all are made.
  const commands = [...plan.map((host) => ({ name: `token-${host.node}`, args: agentTokenArgs(host) })), { name: 'token-read', args: readTokenArgs() }];
  const secrets = await Promise.all(commands.map((c) => make(c.name, c.args)));
  for (const c of commands) say(`  meshctl ${c.args.filter((a) => a !== '--json').join(' ')}`);
  return { agents: new Map(plan.map((host, i) => [host.node, secrets[i]!])), read: secrets.at(-1)! };
}

/** The mesh config the app needs, made with the real CLI and the management token (and printed, so the demo teaches the commands). */
export async function configureMesh(hosts: DemoHosts, controlPlane: DemoControlPlane, meshctl: readonly string[], say: (line: string) => void): Promise<void> {
  const env = cliEnv(hosts, controlPlane.url, controlPlane.managementToken);
  let n = 0;
  for (const args of meshCommands()) {
    await runMeshctl(hosts, meshctl, `cli-${++n}`, args, env);
    say(`  meshctl ${args.join(' ')}`);
  }
}

/**
 * The SecretID in what `meshctl token create --json` wrote. The log holds
 * stderr too (a Node warning, say), so the answer is the object printJson
 * wrote: from a line that is "{" to the next line that is "}".
 */
export function tokenSecretOf(output: string): string | undefined {
  const json = /^\{$[\s\S]*?^\}$/m.exec(output)?.[0];
  if (json === undefined) return undefined;
  try {
    const secret = (JSON.parse(json) as { SecretID?: unknown }).SecretID;
    return typeof secret === 'string' && secret !== '' ? secret : undefined;
  } catch {
    return undefined;
  }
}
