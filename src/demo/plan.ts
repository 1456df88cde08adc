// What `meshctl demo` runs where: pure. Three hosts, the sample app's
// services spread over them, the upstreams each caller needs, the ports, and
// the exact argv of every `meshctl join` and app process. hosts.ts and
// demo.ts carry it out; test/unit/demo-plan.test.ts reads it.
//
//   host-1: frontend, traffic (the load generator, a meshed caller)
//   host-2: api v1
//   host-3: api v2, db
//   traffic → frontend → api (split 80/20 over v1/v2) → db

export type HostsMode = 'netns' | 'loopback';
export type Role = 'frontend' | 'api' | 'db' | 'traffic';

export interface PlannedApp {
  role: Role;
  /** The service it registers as. */
  service: string;
  /** Where the host's proxy delivers its inbound calls (127.0.0.1). */
  port: number;
  /**
   * The address it listens on: 127.0.0.1, except traffic's status, on the
   * host's address so the demo (and its tests) can read it from outside
   * the host; nothing calls traffic through the mesh.
   */
  listenHost: string;
  /** api's v1/v2: a tag, and what the app says it is. */
  version?: string;
  /** The local upstream port it calls its downstream through (frontend → api, api → db, traffic → frontend). */
  upstreamPort?: number;
}

export interface PlannedUpstream {
  service: string;
  localPort: number;
  /** The local service whose identity the calls go out with. */
  as: string;
}

export interface HostPlan {
  index: number;
  node: string;
  /** The host's address: its namespace's eth0, or its own 127.0.x.y. */
  ip: string;
  adminAddr: string;
  inboundAddr: string;
  /** The agent's Prometheus port (on 127.0.0.1 and the host's address). */
  metricsPort: number;
  apps: PlannedApp[];
  upstreams: PlannedUpstream[];
}

/** Ports by what they are for; netns hosts have the well-known ones, loopback hosts free ones. */
export type PortSource = (host: number, what: string) => number;

export const WELL_KNOWN_PORTS: Readonly<Record<string, number>> = {
  admin: 15000,
  inbound: 15006,
  metrics: 15090,
  'app:frontend': 8080,
  'app:api': 8081,
  'app:db': 8082,
  'app:traffic': 8090,
  'upstream:frontend': 9000,
  'upstream:api': 9001,
  'upstream:db': 9002,
};

export const wellKnownPort: PortSource = (_host, what) => {
  const port = WELL_KNOWN_PORTS[what];
  if (port === undefined) throw new Error(`no well-known port for ${what}`);
  return port;
};

interface Layout {
  apps: Array<{ role: Role; version?: string; calls?: Role }>;
}

const LAYOUT: readonly Layout[] = [
  { apps: [{ role: 'frontend', calls: 'api' }, { role: 'traffic', calls: 'frontend' }] },
  { apps: [{ role: 'api', version: 'v1', calls: 'db' }] },
  { apps: [{ role: 'api', version: 'v2', calls: 'db' }, { role: 'db' }] },
];

export const HOST_COUNT = LAYOUT.length;

/** The plan for the given host addresses (one per host, in order). */
export function planHosts(ips: readonly string[], ports: PortSource): HostPlan[] {
  if (ips.length !== HOST_COUNT) throw new Error(`the demo plans ${HOST_COUNT} hosts, got ${ips.length} addresses`);
  return LAYOUT.map((layout, index) => {
    const ip = ips[index]!;
    const apps: PlannedApp[] = layout.apps.map((a) => ({
      role: a.role,
      service: a.role,
      port: ports(index, `app:${a.role}`),
      listenHost: a.role === 'traffic' ? ip : '127.0.0.1',
      ...(a.version ? { version: a.version } : {}),
      ...(a.calls ? { upstreamPort: ports(index, `upstream:${a.calls}`) } : {}),
    }));
    const upstreams = layout.apps.flatMap((a, i) => (a.calls ? [{ service: a.calls, localPort: apps[i]!.upstreamPort!, as: a.role }] : []));
    return { index, node: `host-${index + 1}`, ip, adminAddr: `127.0.0.1:${ports(index, 'admin')}`, inboundAddr: `${ip}:${ports(index, 'inbound')}`, metricsPort: ports(index, 'metrics'), apps, upstreams };
  });
}

/** Every port a host needs, for the loopback allocator. */
export function portNeeds(index: number): string[] {
  const layout = LAYOUT[index];
  if (!layout) return [];
  return ['admin', 'inbound', 'metrics', ...layout.apps.map((a) => `app:${a.role}`), ...layout.apps.flatMap((a) => (a.calls ? [`upstream:${a.calls}`] : []))];
}

/** "frontend, traffic" / "api v1" / "api v2, db": for the progress lines. */
export function describeHost(host: HostPlan): string {
  return host.apps.map((a) => (a.version ? `${a.service} ${a.version}` : a.service)).join(', ');
}

/** The server's TLS API as the hosts join it: its host:port and the CA's pin. */
export interface JoinTarget {
  /** host:port of the TLS API (join reads host:port as https). */
  addr: string;
  /** sha256:<hex> of the mesh CA root, as `meshctl server` prints it. */
  caHash: string;
}

/**
 * The argv (after the meshctl launcher) of the host's `meshctl join --foreground`:
 * the TLS API with the CA pinned, as on a real host. The agent token is not
 * here: it goes in MESHCTL_TOKEN, so that `ps` does not show it.
 */
export function joinArgs(host: HostPlan, server: JoinTarget, dataDir: string, configDir: string): string[] {
  const args = ['join', server.addr, '--ca-hash', server.caHash, '--foreground', '--node-name', host.node, '--advertise-addr', host.ip];
  for (const app of host.apps) {
    const health = `http://${app.listenHost}:${app.port}/health`;
    args.push('--service', `${app.service}=${app.port},check=${health},interval=1s${app.version ? `,tags=${app.version}` : ''}`);
  }
  for (const u of host.upstreams) args.push('--upstream', `${u.service}:${u.localPort},as=${u.as}`);
  args.push('--data-dir', dataDir, '--config-dir', configDir, '--admin-addr', host.adminAddr, '--inbound-addr', host.inboundAddr, '--metrics-port', String(host.metricsPort), '--heartbeat-interval', '2s');
  return args;
}

/** The `meshctl token create` argv of the host's agent token: its node and exactly the services it registers. */
export function agentTokenArgs(host: HostPlan): string[] {
  return ['token', 'create', '--policy', 'agent', '--node', host.node, ...[...new Set(host.apps.map((a) => a.service))].flatMap((s) => ['--service', s]), '--description', `demo-${host.node}-agent`, '--json'];
}

/** The `meshctl token create` argv of the read-only token the dashboard (and the user's `meshctl services`) reads with. */
export function readTokenArgs(): string[] {
  return ['token', 'create', '--policy', 'read', '--description', 'demo-dashboard', '--json'];
}

export interface AppOptions {
  /** traffic's requests per second. */
  rate: number;
  /** db's share of failures, 0..1. */
  errorRate: number;
  seed: number;
}

/** The argv (after `node app.js` or `node traffic.js`) of one app process. */
export function appArgs(app: PlannedApp, options: AppOptions): string[] {
  const args = ['--role', app.role, '--host', app.listenHost, '--port', String(app.port)];
  if (app.version) args.push('--version', app.version);
  if (app.upstreamPort !== undefined) args.push('--upstream-port', String(app.upstreamPort));
  if (app.role === 'db') args.push('--error-rate', String(options.errorRate), '--seed', String(options.seed));
  if (app.role === 'traffic') args.push('--rate', String(options.rate));
  return args;
}

/** The meshctl commands that make the mesh answer: HTTP everywhere, the allow intentions (a new mesh denies), api's subsets and split. */
export function meshCommands(): string[][] {
  return [
    ...['frontend', 'api', 'db'].map((service) => ['config', 'set', 'service-defaults', service, 'protocol=http']),
    ['intention', 'allow', 'traffic', 'frontend'],
    ['intention', 'allow', 'frontend', 'api'],
    ['intention', 'allow', 'api', 'db'],
    ['subset', 'set', 'api', 'v1', '--tag', 'v1'],
    ['subset', 'set', 'api', 'v2', '--tag', 'v2'],
    ['split', 'api', 'v1=80', 'v2=20'],
  ];
}
