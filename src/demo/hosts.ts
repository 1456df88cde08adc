// The demo's three "hosts". As root, network namespaces, built by the rules
// of the e2e test bed (DESIGN.md, "Multi-host test bed (rules)"):
// - every name carries a per-run prefix md<pid base36><2 random>, and the
//   run's temp dir is meshctl-demo-<prefix>-XXXXXX, so parallel runs cannot
//   collide and a later run can tell a dead run's leftovers by its pid;
// - one private /24 per run that overlaps no address or route of the
//   machine; host i is .(i+1); no default route anywhere, so nothing leaves
//   the machine; the hosts' veths are made inside the bridge namespace;
// - unlike the test bed, the control plane runs in this process in the root
//   namespace (so the dashboard and `meshctl stat` reach it), at .254 on one
//   veth whose peer is a bridge port: the one interface the demo shows in the
//   root namespace, gone with the bridge namespace;
// - destroy() stops every process (by process group), kills anything left in
//   the namespaces, deletes them (the veths and the bridge go with them), the
//   gateway veth, /etc/netns/<ns> and the temp dir; it is idempotent, and
//   destroySync() does the same from an 'exit' handler;
// - sweepStale() removes what a run killed with SIGKILL left: namespaces,
//   gateway veths, temp dirs and the processes recorded there, of runs whose
//   pid is gone.
// Without root (or namespaces), the hosts are 127.0.X.1-3 on this machine's
// loopback (hosts-loopback.ts), with free ports instead of well-known ones.

import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshError } from '../lib/errors.ts';
import { NETNS_DIR, creatorOf, ipSync, isStale, listNamespaces, pidsIn } from '../lib/netns.ts';
import { HOST_COUNT, wellKnownPort, type HostsMode, type PortSource } from './plan.ts';
import { killQuietly, killRecorded, ProcessGroup, type Tracked } from './procs.ts';
import { gatewayAddress, hostAddress, parseCidr, pickSubnet, type Cidr } from './subnet.ts';

export interface DemoHost {
  readonly index: number;
  readonly ip: string;
  /** A dir of this host's own in the run's temp dir. */
  readonly dir: string;
  /** Runs argv on this host (inside its namespace), tracked; output to the run's logs. */
  spawn(name: string, argv: readonly string[], options?: { env?: NodeJS.ProcessEnv; oneShot?: boolean }): Tracked;
}

export interface DemoHosts {
  readonly mode: HostsMode;
  readonly prefix: string;
  readonly tmpDir: string;
  /** Where the control plane listens, reachable from every host and from this machine. */
  readonly serverHost: string;
  readonly hosts: readonly DemoHost[];
  readonly ports: PortSource;
  readonly procs: ProcessGroup;
  /** The namespaces made (none on loopback). */
  readonly namespaces: readonly string[];
  destroy(): Promise<void>;
  /** A second Ctrl-C: stop waiting for processes to exit gracefully; the rest of the teardown still runs. */
  hurry(): void;
  destroySync(): void;
}

const IP = 'ip';
const ETC_NETNS = '/etc/netns';
const NS_RE = /^md([0-9a-z]+)([0-9a-z]{2})-(br|h\d+)$/;
const GW_RE = /^md([0-9a-z]+)([0-9a-z]{2})-gw$/;
const TMP_RE = /^meshctl-demo-md([0-9a-z]+)([0-9a-z]{2})-/;
const GRACE_MS = 3_000;

function ip(args: readonly string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(IP, args, { encoding: 'utf8', timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) reject(new MeshError('MESH_E_DEMO', `${what} failed: ip ${args.join(' ')}: ${(stderr || error.message).trim()}`, { hint: 'run the demo as root on a machine with network namespaces, or pass --hosts-mode loopback' }));
      else resolve(stdout);
    });
  });
}


function removeEtcDir(ns: string): void {
  rmSync(join(ETC_NETNS, ns), { recursive: true, force: true });
  try {
    rmdirSync(ETC_NETNS); // only when empty: others may use it
  } catch {
    // not empty, or gone
  }
}

function deleteLinkSync(name: string): void {
  try {
    ipSync(['link', 'del', name]);
  } catch {
    // gone with its peer's namespace
  }
}

/** Kills everything in the namespaces, deletes them; synchronous, ignores errors. */
function deleteNamespacesSync(namespaces: readonly string[]): void {
  for (const ns of namespaces) for (const pid of pidsIn(ns)) killQuietly(pid, 'SIGKILL');
  for (const ns of namespaces) {
    try {
      if (existsSync(join(NETNS_DIR, ns))) ipSync(['netns', 'del', ns]);
    } catch {
      // not there
    }
    removeEtcDir(ns);
  }
}

function tempDirs(): string[] {
  try {
    return readdirSync(tmpdir());
  } catch {
    return [];
  }
}

/** Removes what demos whose process is gone left behind. Runs whose pid lives are left alone. */
export function sweepStale(): { namespaces: string[]; links: string[]; dirs: string[] } {
  const namespaces = listNamespaces().filter((ns) => isStale(creatorOf(ns, NS_RE)));
  namespaces.sort((a, b) => Number(a.endsWith('-br')) - Number(b.endsWith('-br')));
  const dirs = tempDirs().filter((entry) => isStale(creatorOf(entry, TMP_RE)));
  // Processes first (their pids are in the dirs), then the namespaces and links, then the files.
  for (const dir of dirs) killRecorded(join(tmpdir(), dir, 'pids.txt'), /^meshctl-demo-(md[0-9a-z]+)-/.exec(dir)![1]!);
  deleteNamespacesSync(namespaces);
  let links: string[] = [];
  try {
    links = (JSON.parse(ipSync(['-j', 'link', 'show'])) as { ifname?: string }[]).map((l) => l.ifname ?? '').filter((name) => isStale(creatorOf(name, GW_RE)));
  } catch {
    // no ip, or not allowed: nothing of ours can be there
  }
  for (const link of links) deleteLinkSync(link);
  for (const dir of dirs) rmSync(join(tmpdir(), dir), { recursive: true, force: true });
  return { namespaces, links, dirs };
}

export function newPrefix(taken: ReadonlySet<string>): string {
  for (;;) {
    const prefix = `md${process.pid.toString(36)}${randomInt(0, 36 * 36).toString(36).padStart(2, '0')}`;
    if (!taken.has(prefix)) return prefix;
  }
}

function makeTmpDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `meshctl-demo-${prefix}-`));
}

/** Whether this process may build namespace hosts: root and a working `ip netns`. */
export function netnsUsable(): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: `network namespaces need root (this runs as uid ${process.getuid?.() ?? '?'})` };
  try {
    ipSync(['netns', 'list']);
    return { ok: true };
  } catch (error) {
    return { ok: false, why: `\`ip netns\` does not work here (${(error as Error).message.split('\n')[0]}); install iproute2` };
  }
}

async function usedNetworks(): Promise<Cidr[]> {
  const used: Cidr[] = [];
  const links = JSON.parse(await ip(['-j', '-4', 'addr', 'show'], 'listing addresses')) as { addr_info?: { local?: string; prefixlen?: number }[] }[];
  for (const link of links) {
    for (const info of link.addr_info ?? []) {
      const cidr = info.local ? parseCidr(info.local, 32) : undefined;
      if (cidr) used.push(cidr, { base: cidr.base, length: info.prefixlen ?? 32 });
    }
  }
  const routes = JSON.parse(await ip(['-j', '-4', 'route', 'show', 'table', 'all'], 'listing routes')) as { dst?: string }[];
  for (const route of routes) {
    if (!route.dst || route.dst === 'default') continue;
    const cidr = parseCidr(route.dst, 32);
    if (cidr && cidr.length > 0) used.push(cidr);
  }
  return used;
}

/**
 * What both kinds of hosts share: the run's prefix, temp dir and processes,
 * and a teardown that is idempotent, whose second-signal hurry only cuts the
 * waiting, and whose removal part is synchronous (so an exit in the middle
 * cannot leave half of it).
 */
export abstract class HostsBase {
  readonly prefix: string;
  readonly tmpDir: string;
  readonly procs: ProcessGroup;
  private destroying: Promise<void> | undefined;
  private destroyed = false;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.tmpDir = makeTmpDir(prefix);
    this.procs = new ProcessGroup(this.tmpDir, prefix);
  }

  /** Removes what the hosts are made of (namespaces, links); the processes are stopped by then. */
  protected abstract removeMade(): void;

  hurry(): void {
    this.procs.hurryUp();
  }

  destroy(): Promise<void> {
    this.destroying ??= this.procs.stopAll(GRACE_MS).then(() => this.removeSync());
    return this.destroying;
  }

  private removeSync(): void {
    this.removeMade();
    rmSync(this.tmpDir, { recursive: true, force: true });
    this.destroyed = true;
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.procs.stopAllSync();
    this.removeSync();
  }
}

class NetnsHosts extends HostsBase implements DemoHosts {
  readonly mode = 'netns' as const;
  readonly subnet: string;
  readonly serverHost: string;
  readonly hosts: DemoHost[] = [];
  readonly ports = wellKnownPort;
  private readonly created: string[] = [];
  private readonly gateway: string;
  private gatewayMade = false;

  constructor(prefix: string, subnet: string) {
    super(prefix);
    this.subnet = subnet;
    this.serverHost = gatewayAddress(subnet);
    this.gateway = `${prefix}-gw`;
  }

  get namespaces(): string[] {
    const bridge = `${this.prefix}-br`;
    return [...this.created.filter((ns) => ns !== bridge), ...this.created.filter((ns) => ns === bridge)];
  }

  private async addNamespace(ns: string): Promise<void> {
    this.created.push(ns); // before creating: a half-made one is removed too
    await ip(['netns', 'add', ns], `creating network namespace ${ns}`);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up'], `bringing lo up in ${ns}`);
  }

  async build(): Promise<void> {
    const bridgeNs = `${this.prefix}-br`;
    const bridge = `${this.prefix}-br`;
    await this.addNamespace(bridgeNs);
    await ip(['-n', bridgeNs, 'link', 'add', bridge, 'type', 'bridge', 'forward_delay', '0'], 'creating the bridge');
    await ip(['-n', bridgeNs, 'link', 'set', bridge, 'up'], 'bringing the bridge up');
    // The gateway: made in the root namespace, its peer moved straight into the bridge's.
    this.gatewayMade = true;
    await ip(['link', 'add', this.gateway, 'type', 'veth', 'peer', 'name', `${this.prefix}-gp`, 'netns', bridgeNs], 'creating the gateway veth');
    await ip(['-n', bridgeNs, 'link', 'set', `${this.prefix}-gp`, 'master', bridge, 'up'], 'joining the gateway to the bridge');
    await ip(['addr', 'add', `${this.serverHost}/24`, 'dev', this.gateway], 'addressing the gateway');
    await ip(['link', 'set', this.gateway, 'up'], 'bringing the gateway up');
    for (let index = 0; index < HOST_COUNT; index++) {
      const ns = `${this.prefix}-h${index}`;
      const address = hostAddress(this.subnet, index);
      await this.addNamespace(ns);
      await ip(['-n', bridgeNs, 'link', 'add', ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns], `creating the veth pair of ${ns}`);
      await ip(['-n', bridgeNs, 'link', 'set', ns, 'master', bridge, 'up'], `joining ${ns} to the bridge`);
      await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'], `addressing ${ns}`);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up'], `bringing eth0 up in ${ns}`);
      const dir = join(this.tmpDir, `host-${index + 1}`);
      mkdirSync(dir);
      this.hosts.push({ index, ip: address, dir, spawn: (name, argv, options) => this.procs.spawn(name, [IP, 'netns', 'exec', ns, ...argv], options) });
    }
    await this.waitForwarding(bridgeNs, bridge);
  }

  /** Until every bridge port forwards (forward_delay 0 makes that quick; 5 s at most). */
  private async waitForwarding(bridgeNs: string, bridge: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const ports = JSON.parse(await ip(['-j', '-d', '-n', bridgeNs, 'link', 'show', 'master', bridge], 'listing bridge ports')) as { operstate?: string; linkinfo?: { info_slave_data?: { state?: string } } }[];
      if (ports.length === HOST_COUNT + 1 && ports.every((p) => p.operstate === 'UP' && p.linkinfo?.info_slave_data?.state === 'forwarding')) return;
      if (Date.now() > deadline) throw new MeshError('MESH_E_DEMO', `the demo's bridge ${bridge} did not forward within 5 s`, { hint: 'run it again; if it persists, pass --hosts-mode loopback' });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  protected removeMade(): void {
    deleteNamespacesSync(this.namespaces);
    if (this.gatewayMade) deleteLinkSync(this.gateway);
  }
}

/** Namespace hosts; what was half-built is removed before this throws. */
export async function createNetnsHosts(): Promise<DemoHosts> {
  const usable = netnsUsable();
  if (!usable.ok) throw new MeshError('MESH_E_DEMO', `cannot make namespace hosts: ${usable.why}`, { hint: 'run meshctl demo as root, or pass --hosts-mode loopback' });
  sweepStale();
  const subnet = pickSubnet(await usedNetworks(), Math.random);
  if (!subnet) throw new MeshError('MESH_E_DEMO', 'found no free private /24 for the demo: every candidate overlaps an address or route of this machine', { hint: 'pass --hosts-mode loopback' });
  const taken = new Set(listNamespaces().map((ns) => ns.replace(/-(br|h\d+)$/, '')));
  const hosts = new NetnsHosts(newPrefix(taken), subnet);
  try {
    await hosts.build();
  } catch (error) {
    hosts.destroySync();
    throw error;
  }
  return hosts;
}

/** sweepStale where removing may be refused (no root): what it cannot remove stays. */
export function sweepStaleQuietly(): void {
  try {
    sweepStale();
  } catch {
    // nothing we may remove
  }
}
