// `meshctl demo`, carried out: hosts (namespaces or loopback addresses), a
// control plane in this process with ACLs on and its tokens
// (control-plane.ts), the mesh config the sample app needs (made with the
// real CLI), on each host the app's processes and a real `meshctl join
// --foreground` with its agent token, then the traffic generator; then the
// dashboard (injected, reading with the read-only token) or a wait for Ctrl-C. Whatever happens after the first
// thing is made, everything is removed before this returns or throws.
//
// Signals: the first SIGINT/SIGTERM stops the demo (cleanly, exit 0); one
// during cleanup only stops the waiting for processes to exit, the rest of
// the teardown still runs; an 'exit' handler does a synchronous teardown if
// the process ends some other way.

import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { get } from 'node:http';
import { MeshError } from '../lib/errors.ts';
import { ApiClient } from '../cli/api-client.ts';
import { createNetnsHosts, netnsUsable, newPrefix, type DemoHost, type DemoHosts } from './hosts.ts';
import { createLoopbackHosts } from './hosts-loopback.ts';
import { configureMesh, createTokens, startControlPlane, type DemoControlPlane, type DemoTokens } from './control-plane.ts';
import { appArgs, describeHost, joinArgs, planHosts, type HostPlan, type HostsMode } from './plan.ts';
import { tail, type Tracked } from './procs.ts';

export interface DashboardRequest {
  client: ApiClient;
  serverUrl: string;
}

export interface DemoOptions {
  mode: HostsMode | 'auto';
  /** traffic's requests per second. */
  rate: number;
  errorRate?: number;
  seed?: number;
  /** Opens the dashboard; resolves when the user quits it. Undefined: run until a signal. */
  openDashboard?: (request: DashboardRequest) => Promise<void>;
  /** argv that runs this meshctl build (the launcher's node and main). */
  meshctl: readonly string[];
  /** Progress lines. */
  say: (line: string) => void;
}

const STARTUP_TIMEOUT_MS = 60_000;
/** The app files sit beside this one: .ts when run from the source, .js from dist. */
const appFile = (name: string) => fileURLToPath(new URL(`./${name}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

async function makeHosts(mode: DemoOptions['mode'], say: (line: string) => void): Promise<DemoHosts> {
  if (mode === 'loopback') return createLoopbackHosts(newPrefix(new Set()));
  if (mode === 'netns') return createNetnsHosts();
  const usable = netnsUsable();
  if (!usable.ok) {
    say(`hosts: 127.0.X.1-3 on this machine's loopback (${usable.why})`);
    return createLoopbackHosts(newPrefix(new Set()));
  }
  try {
    return await createNetnsHosts();
  } catch (error) {
    say(`hosts: network namespaces failed (${(error as Error).message}); using 127.0.X.1-3 on the loopback instead`);
    return createLoopbackHosts(newPrefix(new Set()));
  }
}

/** Runs the demo until a signal or the dashboard's q; resolves once everything is removed. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const { say } = options;
  let hosts: DemoHosts | undefined;
  let controlPlane: DemoControlPlane | undefined;
  let cleaning: Promise<void> | undefined;
  let stopReason = '';
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (cleaning) {
      say(`${signal}: still cleaning up; no longer waiting for processes to exit`);
      hosts?.hurry();
      return;
    }
    stopReason ||= signal;
    stop();
  };
  const onExit = () => hosts?.destroySync();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  const interrupted = () => {
    if (stopReason) throw new Interrupted();
  };

  const cleanup = async () => {
    if (!hosts) return;
    say(stopReason ? `${stopReason}: removing everything the demo made…` : 'removing everything the demo made…');
    const made = hosts ? `${hosts.procs.pids().length} processes, ${hosts.namespaces.length ? `namespaces ${hosts.namespaces.join(' ')}, ` : ''}${hosts.tmpDir}` : '';
    await hosts?.destroy();
    await controlPlane?.server.close();
    if (made) say(`removed ${made}`);
  };

  try {
    hosts = await makeHosts(options.mode, say);
    interrupted();
    controlPlane = await startControlPlane(hosts);
    const serverUrl = controlPlane.url;
    say(`server up at ${serverUrl} (ACLs on; TLS API for the hosts at https://${controlPlane.join.addr}; state in ${hosts.tmpDir}/server)`);
    interrupted();

    const plan = planHosts(hosts.hosts.map((h) => h.ip), hosts.ports);
    const tokens = await createTokens(hosts, plan, controlPlane, options.meshctl, say);
    interrupted();
    await configureMesh(hosts, controlPlane, options.meshctl, say);
    interrupted();

    // The demo itself only reads (the catalog's health), so it reads with the read-only token too.
    const client = new ApiClient({ url: serverUrl, token: tokens.read, source: 'flag' });
    const starting = new Map<Tracked, string>();
    let failure: MeshError | undefined;
    hosts.procs.onUnexpectedExit = (proc, exit) => {
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.code}`;
      const error = new MeshError('MESH_E_DEMO', `${proc.name} ${how}:\n${tail(proc.logFile)}`, { hint: starting.get(proc) ?? 'see the lines above; run meshctl demo again' });
      if (!failure) failure = error;
      if (cleaning === undefined && !stopReason) say(`warning: ${error.message}`);
      stop();
    };

    await Promise.all(plan.map((host) => startHost(hosts!.hosts[host.index]!, host, options, controlPlane!, tokens, client, starting, say, () => failure ?? (stopReason ? new Interrupted() : undefined))));
    interrupted();
    if (failure) throw failure;

    // The catalog has everyone; the callers' proxies learn it through their watches: wait for that too, so the first requests find every instance.
    await Promise.all(plan.map((host) => waitForUpstreams(hosts!.hosts[host.index]!, host, plan, options.meshctl, () => failure ?? (stopReason ? new Interrupted() : undefined))));
    interrupted();
    const h1 = plan[0]!;
    const traffic = h1.apps.find((a) => a.role === 'traffic')!;
    const trafficProc = hosts.hosts[0]!.spawn('host-1-traffic', [process.execPath, appFile('traffic'), ...appArgs(traffic, appOptions(options))]);
    starting.set(trafficProc, 'the traffic generator could not start; run meshctl demo again');
    const statusUrl = `http://${h1.ip}:${traffic.port}/status`;
    await waitUntil(async () => ((await trafficStatus(statusUrl))?.ok ?? 0) > 0, () => failure ?? (stopReason ? new Interrupted() : undefined), `no request from traffic reached frontend and came back within ${STARTUP_TIMEOUT_MS / 1000} s (traffic status: ${statusUrl})`);
    if (failure) throw failure;
    say(`traffic flows: ${options.rate} req/s traffic → frontend → api (v1 80%, v2 20%) → db`);
    say('');
    say(`meshctl demo is running on ${hosts.mode === 'netns' ? `network namespaces ${hosts.namespaces.filter((ns) => !ns.endsWith('-br')).join(' ')}` : `loopback addresses ${plan.map((h) => h.ip).join(' ')}`}`);
    say(`  server   ${serverUrl}   ACLs on: anonymous requests may read only /v1/status`);
    say(`  tokens   read-only ${tokens.read} (the dashboard's); management in ${controlPlane.managementTokenFile} (mode 0600)`);
    say(`  try      MESHCTL_SERVER=${serverUrl} MESHCTL_TOKEN=${tokens.read} meshctl services`);
    say(`  hosts    joined https://${controlPlane.join.addr} with --ca-hash ${controlPlane.join.caHash} and an agent token each`);
    say(`  traffic  ${statusUrl}`);
    say(`  logs     ${hosts.tmpDir} (removed at exit)`);
    say(options.openDashboard ? 'opening the dashboard (q quits and removes everything)' : 'Ctrl-C removes everything the demo made.');

    if (options.openDashboard && !stopReason) {
      await Promise.race([options.openDashboard({ client, serverUrl }), stopped]);
    } else {
      await stopped;
    }
    if (failure && !stopReason) throw failure;
  } catch (error) {
    if (!(error instanceof Interrupted)) {
      cleaning = cleanup();
      await cleaning;
      throw error instanceof MeshError ? error : new MeshError('MESH_E_DEMO', `the demo failed: ${(error as Error).message}`, { hint: 'everything it made was removed; run meshctl demo again, or pass --hosts-mode loopback' });
    }
  } finally {
    cleaning ??= cleanup();
    await cleaning;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

class Interrupted extends Error {}

function appOptions(options: DemoOptions) {
  return { rate: options.rate, errorRate: options.errorRate ?? 0.02, seed: options.seed ?? 8 };
}

/** Starts a host's apps and its agent; resolves once the catalog has its services passing. */
async function startHost(host: DemoHost, plan: HostPlan, options: DemoOptions, controlPlane: DemoControlPlane, tokens: DemoTokens, client: ApiClient, starting: Map<Tracked, string>, say: (line: string) => void, abort: () => Error | undefined): Promise<void> {
  for (const app of plan.apps) {
    if (app.role === 'traffic') continue; // started last, once every host is in
    const proc = host.spawn(`${plan.node}-${app.service}`, [process.execPath, appFile('app'), ...appArgs(app, appOptions(options))]);
    starting.set(proc, `${app.service}'s app on ${plan.node} could not start; run meshctl demo again`);
  }
  // The agent token goes in the environment, not in argv, where ps would show it.
  const env = { ...process.env, NO_COLOR: '1', MESHCTL_TOKEN: tokens.agents.get(plan.node) ?? '' };
  const join = host.spawn(`${plan.node}-agent`, [...options.meshctl, ...joinArgs(plan, controlPlane.join, `${host.dir}/data`, `${host.dir}/conf`)], { env });
  starting.set(join, `the agent on ${plan.node} could not join https://${controlPlane.join.addr}${plan.ip.startsWith('127.') ? '' : ' (a firewall on this machine may drop traffic from the demo\'s namespaces: allow it, or pass --hosts-mode loopback)'}`);
  // traffic is registered too (with its health check), though it is not started yet: it is checked once the others pass.
  const services = plan.apps.filter((a) => a.role !== 'traffic').map((a) => a.service);
  await waitUntil(async () => {
    for (const service of services) {
      const { body } = await client.request<Array<{ Node: { Node: string } }>>('GET', `/v1/health/service/${service}?passing`);
      if (!body.some((entry) => entry.Node.Node === plan.node)) return false;
    }
    return true;
  }, abort, `${plan.node}'s services (${services.join(', ')}) did not pass their checks within ${STARTUP_TIMEOUT_MS / 1000} s; agent log:\n${tail(join.logFile)}`);
  say(`${plan.node} joined (${describeHost(plan)}) at ${plan.ip}`);
}

/** Until the host's agent (meshctl status, on the host) has every instance of each upstream passing. */
async function waitForUpstreams(host: DemoHost, plan: HostPlan, all: readonly HostPlan[], meshctl: readonly string[], abort: () => Error | undefined): Promise<void> {
  const expected = new Map(plan.upstreams.map((u) => [u.service, all.flatMap((h) => h.apps).filter((a) => a.service === u.service).length]));
  if (expected.size === 0) return;
  let n = 0;
  let last = '';
  await waitUntil(async () => {
    const proc = host.spawn(`${plan.node}-status-${++n}`, [...meshctl, 'status', '--json', '--config-dir', `${host.dir}/conf`], { oneShot: true });
    await proc.exited;
    last = readFileSync(proc.logFile, 'utf8');
    rmSync(proc.logFile, { force: true });
    const status = JSON.parse(last) as { upstreams?: Array<{ name: string; passing: number }> };
    return [...expected].every(([service, count]) => status.upstreams?.some((u) => u.name === service && u.passing >= count));
  }, abort, `${plan.node}'s proxy did not learn every instance of ${[...expected.keys()].join(', ')} within ${STARTUP_TIMEOUT_MS / 1000} s; its status: ${last}`);
}

async function waitUntil(condition: () => Promise<boolean>, abort: () => Error | undefined, timeoutMessage: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const stopNow = abort();
    if (stopNow) throw stopNow;
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new MeshError('MESH_E_DEMO', timeoutMessage, { hint: 'everything the demo made was removed; run it again, or try --hosts-mode loopback' });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface TrafficStatus {
  sent: number;
  answered: number;
  ok: number;
  failed: number;
  byStatus: Record<string, number>;
}

export function trafficStatus(url: string): Promise<TrafficStatus | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 2_000, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as TrafficStatus);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}
