// Multi-host test bed: "hosts" are network namespaces joined by veth pairs to
// a bridge that lives in a namespace of its own (DESIGN.md, "Multi-host test
// bed (rules)").
//
//   const bed = await createTestbed({ hosts: 3, name: 'join' });
//   t.after(() => bed.destroy());
//   const [a, b] = bed.hosts;
//   const server = a.spawn(process.execPath, ['-e', '...listen on a.ip...']);
//   const { code, stdout } = await b.exec('ip', ['route']);
//
// Rules kept here:
// - every name carries a per-run prefix `mt<pid base36><2 random>`, so
//   parallel runs cannot collide; veth pairs are created inside the bridge
//   namespace with their peer moved straight into the host namespace, so no
//   interface ever appears in the root namespace (interface names stay within
//   15 characters anyway);
// - one private /24 per run, not overlapping any address or route of the
//   machine; host i gets .(i+1); loopback up everywhere; no default route in
//   any namespace, so nothing can leave the machine; traffic only starts
//   inside a namespace (`ip netns exec`);
// - destroy() kills every process (tracked ones by process group, SIGTERM then
//   SIGKILL, then anything else still inside the namespaces), deletes the
//   namespaces (which removes the veths and the bridge), /etc/netns/<ns> and
//   the temp dir. It is idempotent; 'exit', SIGINT and SIGTERM handlers do the
//   same synchronously for an interrupted run, and sweepStale() (run at every
//   creation) removes what a run killed with SIGKILL left behind (names carry
//   the creator's pid, and only runs whose pid is gone are swept);
// - no root, no `ip`, or no namespaces: createTestbed throws an Error that
//   says so. Tests fail with it; they never skip.

import { execFile, execFileSync, spawn as spawnChild, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETNS_DIR, creatorOf, ipSync, isStale, listNamespaces, pidsIn } from '../../src/lib/netns.ts';

export interface TestbedOptions {
  /** Number of hosts (network namespaces), 1..200. */
  hosts: number;
  /** A label for messages and the temp dir (not used in interface names). */
  name?: string;
  /**
   * /etc/resolv.conf content per host: one string for every host, an array
   * indexed by host (undefined: none), or a function of the host. `ip netns
   * exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
   */
  resolvConf?: string | (string | undefined)[] | ((host: TestbedHost) => string | undefined);
  /** Grace between SIGTERM and SIGKILL in destroy(). Default 2000 ms. */
  killGraceMs?: number;
  /** Remove namespaces left by crashed runs first (sweepStale). Default true. */
  sweep?: boolean;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Kill the command's process group after this long. Default 30000 ms. */
  timeoutMs?: number;
  /** Reject, with the output in the message, unless the exit code is 0. */
  check?: boolean;
}

export interface ExecResult {
  /** null when killed by a signal (see `signal`, `timedOut`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface TestbedHost {
  readonly index: number;
  /** The network namespace's name. */
  readonly name: string;
  /** IPv4 address on eth0, inside the run's /24. */
  readonly ip: string;
  /** The interface that joins the bridge, inside the namespace. */
  readonly iface: string;
  /** A temp dir of this host's own (removed in teardown). */
  readonly dir: string;
  /** /etc/netns/<ns>; holds resolv.conf when one is set. */
  readonly etcDir: string;
  /** Runs `ip netns exec <ns> cmd args...`; never rejects on a non-zero exit unless `check`. */
  exec(cmd: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Starts `ip netns exec <ns> cmd args...` as the leader of a new process
   * group (detached), tracked: destroy() kills the group. stdin defaults to
   * 'ignore', stdout/stderr to 'pipe'.
   */
  spawn(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Writes /etc/netns/<ns>/resolv.conf (null removes it); applies to later exec/spawn. */
  setResolvConf(content: string | null): void;
}

export interface Testbed {
  /** Per-run prefix of every name: mt<pid base36><2 random chars>. */
  readonly prefix: string;
  readonly label: string;
  /** The run's network, e.g. 10.213.7.0/24. */
  readonly subnet: string;
  readonly prefixLength: 24;
  /** Namespace that holds the bridge. */
  readonly bridgeNs: string;
  /** The bridge device (inside bridgeNs). */
  readonly bridge: string;
  readonly hosts: readonly TestbedHost[];
  /** Every namespace of the run, the bridge's last. */
  readonly namespaces: readonly string[];
  readonly tmpDir: string;
  /** Kills, deletes and removes everything; idempotent (later calls return the first call's promise). */
  destroy(): Promise<void>;
}

const IP = 'ip';
const ETC_NETNS = '/etc/netns';
/** mt + creator pid in base36 + 2 random base36 chars, then -br or -h<i>. */
const NAME_RE = /^mt([0-9a-z]+)([0-9a-z]{2})-(br|h\d+)$/;
/** The run's temp dir: meshctl-testbed-<prefix>-<label>-XXXXXX. */
const TMP_RE = /^meshctl-testbed-mt([0-9a-z]+)([0-9a-z]{2})-/;
const MAX_HOSTS = 200;

// ---------------------------------------------------------------------------
// Requirements

/**
 * Throws an Error with a clear message unless this process can build a test
 * bed: root and iproute2's `ip`. (That namespaces can be created is found out
 * by creating the first one.)
 */
export function requireRoot(): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(
      `test bed: needs root to create network namespaces, but this process runs as uid ${uid ?? 'unknown'}. ` +
        'Run the e2e tests as root (CI does).',
    );
  }
  try {
    execFileSync(IP, ['-V'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `test bed: iproute2's \`ip\` command is not usable (${(error as Error).message}). Install it: apt-get install iproute2`,
    );
  }
}

// ---------------------------------------------------------------------------
// Small helpers

function run(args: string[], what?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(IP, args, { encoding: 'utf8', timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) {
        const detail = (stderr || error.message).trim();
        reject(new Error(`test bed: ${what ?? 'command'} failed: ip ${args.join(' ')}: ${detail}`));
      } else resolve(stdout);
    });
  });
}


function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function running(child: ChildProcess): boolean {
  // Until Node reaps the child (which sets one of these), its pid is still ours.
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Alive and not a zombie (a child Node has not reaped yet counts as gone). */
function stillRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves when `promise` does or after `ms`, whichever comes first (and keeps no timer alive). */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}


function removeEtcDir(ns: string): void {
  rmSync(join(ETC_NETNS, ns), { recursive: true, force: true });
  try {
    rmdirSync(ETC_NETNS); // only when empty: another run may be using it
  } catch {
    // not empty, or gone
  }
}

function makeEtcDir(ns: string): string {
  const dir = join(ETC_NETNS, ns);
  // A parallel run's teardown may remove an empty /etc/netns meanwhile: retry.
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(dir, { recursive: true });
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw error;
    }
  }
}

/** Kills everything in the namespaces and deletes them, synchronously; ignores errors. */
function deleteNamespacesSync(namespaces: readonly string[]): void {
  for (const ns of namespaces) for (const pid of pidsIn(ns)) killQuietly(pid, 'SIGKILL');
  for (const ns of namespaces) {
    try {
      ipSync(['netns', 'del', ns]);
    } catch {
      // not there
    }
    removeEtcDir(ns);
  }
}

// ---------------------------------------------------------------------------
// Stale namespaces of crashed runs


/**
 * Removes what this harness left in a run whose process is gone (killed with
 * SIGKILL, so its handlers never ran): kills what still runs in its
 * namespaces, deletes them, their /etc/netns dirs and its temp dirs. Runs
 * whose creator pid is alive are left alone. Returns what it removed.
 */
export function sweepStale(): { namespaces: string[]; dirs: string[] } {
  const namespaces = listNamespaces().filter((ns) => isStale(creatorOf(ns, NAME_RE)));
  // Hosts before bridges, as teardown does.
  namespaces.sort((a, b) => Number(a.endsWith('-br')) - Number(b.endsWith('-br')));
  deleteNamespacesSync(namespaces);
  let entries: string[] = [];
  try {
    entries = readdirSync(tmpdir());
  } catch {
    // no temp dir to look at
  }
  const dirs = entries.filter((entry) => isStale(creatorOf(entry, TMP_RE))).map((entry) => join(tmpdir(), entry));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return { namespaces, dirs };
}

// ---------------------------------------------------------------------------
// Picking the run's /24

interface Cidr {
  base: number;
  length: number;
}

function parseCidr(text: string, defaultLength = 32): Cidr | undefined {
  const [address, length] = text.split('/');
  const parts = (address ?? '').split('.').map((part) => Number.parseInt(part, 10));
  if (parts.length !== 4 || parts.some((part) => !(part >= 0 && part <= 255))) return undefined;
  const base = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  return { base, length: length === undefined ? defaultLength : Number.parseInt(length, 10) };
}

function overlaps(a: Cidr, b: Cidr): boolean {
  const length = Math.min(a.length, b.length);
  if (length === 0) return true;
  const mask = length >= 32 ? 0xffffffff : ~(0xffffffff >>> length) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

/** Every IPv4 address and (non-default) route of the root namespace. */
async function usedNetworks(): Promise<Cidr[]> {
  const used: Cidr[] = [];
  const addresses = JSON.parse(await run(['-j', '-4', 'addr', 'show'], 'listing addresses')) as {
    addr_info?: { local?: string; prefixlen?: number }[];
  }[];
  for (const link of addresses) {
    for (const info of link.addr_info ?? []) {
      const cidr = info.local ? parseCidr(info.local, 32) : undefined;
      if (cidr) used.push(cidr, { base: cidr.base, length: info.prefixlen ?? 32 });
    }
  }
  const routes = JSON.parse(await run(['-j', '-4', 'route', 'show', 'table', 'all'], 'listing routes')) as {
    dst?: string;
  }[];
  for (const route of routes) {
    if (!route.dst || route.dst === 'default') continue;
    const cidr = parseCidr(route.dst, 32);
    if (cidr && cidr.length > 0) used.push(cidr);
  }
  return used;
}

async function pickSubnet(): Promise<string> {
  const used = await usedNetworks();
  for (let attempt = 0; attempt < 200; attempt++) {
    // Mostly 10.200-250.x.0/24; after many misses, 172.16-31.x.0/24.
    const candidate =
      attempt < 100 ? `10.${randomInt(200, 251)}.${randomInt(0, 256)}.0/24` : `172.${randomInt(16, 32)}.${randomInt(0, 256)}.0/24`;
    const cidr = parseCidr(candidate)!;
    if (!used.some((network) => overlaps(network, cidr))) return candidate;
  }
  throw new Error('test bed: found no free private /24 (every candidate overlaps an address or route of this machine)');
}

// ---------------------------------------------------------------------------
// Interrupted runs: 'exit', SIGINT, SIGTERM

const live = new Set<TestbedImpl>();
let handlersInstalled = false;

function onExit(): void {
  for (const bed of [...live]) bed.destroySync();
}

function onSignal(signal: NodeJS.Signals): void {
  for (const bed of [...live]) bed.destroySync();
  uninstallHandlers();
  // Die of the signal as we would have, unless someone else handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

// ---------------------------------------------------------------------------
// The test bed

function newPrefix(): string {
  const taken = new Set(listNamespaces().map((ns) => ns.replace(/-(br|h\d+)$/, '')));
  for (;;) {
    const prefix = `mt${process.pid.toString(36)}${randomInt(0, 36 * 36).toString(36).padStart(2, '0')}`;
    if (!taken.has(prefix) && ![...live].some((bed) => bed.prefix === prefix)) return prefix;
  }
}

class TestbedImpl implements Testbed {
  readonly prefix: string;
  readonly label: string;
  readonly subnet: string;
  readonly prefixLength = 24 as const;
  readonly bridgeNs: string;
  readonly bridge: string;
  readonly hosts: TestbedHost[] = [];
  readonly tmpDir: string;
  /** Created so far, in creation order. */
  private readonly created: string[] = [];
  private readonly etcDirs = new Set<string>();
  private readonly children = new Set<ChildProcess>();
  private readonly killGraceMs: number;
  private destroying: Promise<void> | undefined;
  private destroyed = false;

  constructor(prefix: string, label: string, subnet: string, killGraceMs: number) {
    this.prefix = prefix;
    this.label = label;
    this.subnet = subnet;
    this.bridgeNs = `${prefix}-br`;
    this.bridge = `${prefix}-br`;
    this.killGraceMs = killGraceMs;
    this.tmpDir = mkdtempSync(join(tmpdir(), `meshctl-testbed-${prefix}-${label.replace(/[^\w.-]/g, '_')}-`));
  }

  get namespaces(): string[] {
    // Hosts first, the bridge's last.
    return [...this.created.filter((ns) => ns !== this.bridgeNs), ...this.created.filter((ns) => ns === this.bridgeNs)];
  }

  async addNamespace(ns: string): Promise<void> {
    this.created.push(ns); // before creating: a half-made one is still removed
    try {
      await run(['netns', 'add', ns], `creating network namespace ${ns}`);
    } catch (error) {
      throw new Error(
        `${(error as Error).message}. The e2e tests need root with CAP_SYS_ADMIN and network namespaces (CI has them).`,
      );
    }
    await run(['-n', ns, 'link', 'set', 'lo', 'up'], `bringing lo up in ${ns}`);
  }

  async build(hostCount: number, resolvConf: TestbedOptions['resolvConf']): Promise<void> {
    await this.addNamespace(this.bridgeNs);
    await run(['-n', this.bridgeNs, 'link', 'add', this.bridge, 'type', 'bridge', 'forward_delay', '0'], 'creating the bridge');
    await run(['-n', this.bridgeNs, 'link', 'set', this.bridge, 'up'], 'bringing the bridge up');

    const network = this.subnet.replace(/\.0\/24$/, '');
    const hosts: TestbedHost[] = [];
    for (let index = 0; index < hostCount; index++) hosts.push(this.makeHost(index, `${network}.${index + 1}`));
    await Promise.all(hosts.map((host) => this.wire(host)));
    this.hosts.push(...hosts);

    for (const host of hosts) {
      const content =
        typeof resolvConf === 'function' ? resolvConf(host) : Array.isArray(resolvConf) ? resolvConf[host.index] : resolvConf;
      if (content !== undefined) host.setResolvConf(content);
    }
    await this.waitForwarding();
  }

  private async wire(host: TestbedHost): Promise<void> {
    await this.addNamespace(host.name);
    const port = `${this.prefix}-h${host.index}`;
    // Made inside the bridge namespace, peer moved straight into the host's:
    // neither end ever shows in the root namespace.
    await run(
      ['-n', this.bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', host.iface, 'netns', host.name],
      `creating the veth pair of ${host.name}`,
    );
    await run(['-n', this.bridgeNs, 'link', 'set', port, 'master', this.bridge, 'up'], `joining ${port} to the bridge`);
    await run(['-n', host.name, 'addr', 'add', `${host.ip}/24`, 'dev', host.iface], `addressing ${host.name}`);
    await run(['-n', host.name, 'link', 'set', host.iface, 'up'], `bringing ${host.iface} up in ${host.name}`);
  }

  /** Until every bridge port forwards and every host's eth0 is up (5 s at most). */
  private async waitForwarding(): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const ports = JSON.parse(await run(['-j', '-d', '-n', this.bridgeNs, 'link', 'show', 'master', this.bridge])) as {
        operstate?: string;
        linkinfo?: { info_slave_data?: { state?: string } };
      }[];
      const portsReady =
        ports.length === this.hosts.length &&
        ports.every((port) => port.operstate === 'UP' && port.linkinfo?.info_slave_data?.state === 'forwarding');
      let hostsReady = portsReady;
      for (const host of this.hosts) {
        if (!hostsReady) break;
        const [link] = JSON.parse(await run(['-j', '-n', host.name, 'link', 'show', host.iface])) as { operstate?: string }[];
        hostsReady = link?.operstate === 'UP';
      }
      if (hostsReady) return;
      if (Date.now() > deadline) throw new Error(`test bed: links of ${this.prefix} did not come up within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private makeHost(index: number, ip: string): TestbedHost {
    const name = `${this.prefix}-h${index}`;
    const dir = join(this.tmpDir, `h${index}`);
    mkdirSync(dir);
    const etcDir = join(ETC_NETNS, name);
    return {
      index,
      name,
      ip,
      iface: 'eth0',
      dir,
      etcDir,
      exec: (cmd, args = [], opts = {}) => this.exec(name, cmd, args, opts),
      spawn: (cmd, args = [], opts = {}) => this.spawnIn(name, cmd, args, opts),
      setResolvConf: (content) => {
        this.assertUsable();
        if (content === null) {
          rmSync(join(etcDir, 'resolv.conf'), { force: true });
          return;
        }
        this.etcDirs.add(name);
        makeEtcDir(name);
        writeFileSync(join(etcDir, 'resolv.conf'), content);
      },
    };
  }

  private assertUsable(): void {
    if (this.destroying) throw new Error(`test bed ${this.prefix} (${this.label}) is destroyed`);
  }

  spawnIn(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
    this.assertUsable();
    const child = spawnChild(IP, ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
      detached: true, // its own process group, which teardown kills
    });
    if (child.pid !== undefined) {
      this.children.add(child);
      child.once('exit', () => this.children.delete(child));
    }
    return child;
  }

  exec(ns: string, cmd: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = this.spawnIn(ns, cmd, args, {
          stdio: ['pipe', 'pipe', 'pipe'],
          ...(opts.env ? { env: opts.env } : {}),
          ...(opts.cwd ? { cwd: opts.cwd } : {}),
        });
      } catch (error) {
        reject(error);
        return;
      }
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdin!.on('error', () => {}); // the command may not read its input
      child.stdin!.end(opts.input ?? '');
      const timer = setTimeout(() => {
        timedOut = true;
        killQuietly(-child.pid!, 'SIGKILL'); // the group: the leader may be gone and a child hold the pipes
      }, opts.timeoutMs ?? 30_000);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const result: ExecResult = { code, signal, stdout, stderr, timedOut };
        if (opts.check && code !== 0) {
          const how = timedOut ? 'timed out' : code === null ? `died of ${signal}` : `exited ${code}`;
          reject(new Error(`in ${ns}: ${cmd} ${args.join(' ')} ${how}\nstdout: ${stdout}\nstderr: ${stderr}`));
        } else resolve(result);
      });
    });
  }

  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    // 1. Tracked processes: SIGTERM their groups, SIGKILL after the grace.
    const children = [...this.children].filter(running);
    const exited = Promise.all(
      children.map((child) => new Promise<void>((resolve) => (running(child) ? child.once('exit', () => resolve()) : resolve()))),
    );
    for (const child of children) killQuietly(-child.pid!, 'SIGTERM');
    await waitAtMost(exited, this.killGraceMs);
    for (const child of children) if (running(child)) killQuietly(-child.pid!, 'SIGKILL');
    await waitAtMost(exited, 2_000);

    // 2. Anything else still inside the namespaces (a daemon that left its
    // group, a process started with a bare `ip netns exec`), then the
    // namespaces themselves, which takes the veths and the bridge with them.
    const errors: string[] = [];
    const namespaces = this.namespaces;
    for (const ns of namespaces) for (const pid of pidsIn(ns)) killQuietly(pid, 'SIGKILL');
    for (const ns of namespaces) {
      if (!existsSync(join(NETNS_DIR, ns))) continue;
      try {
        await run(['netns', 'del', ns], `deleting namespace ${ns}`);
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    // 3. Files.
    for (const ns of new Set([...this.etcDirs, ...namespaces])) removeEtcDir(ns);
    rmSync(this.tmpDir, { recursive: true, force: true });
    this.destroyed = true;
    live.delete(this);
    if (live.size === 0) uninstallHandlers();
    if (errors.length > 0) throw new Error(`test bed ${this.prefix} (${this.label}) teardown:\n${errors.join('\n')}`);
  }

  /** For 'exit' and signal handlers: the same teardown, synchronously. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroying ??= Promise.resolve();
    const children = [...this.children].filter(running);
    for (const child of children) killQuietly(-child.pid!, 'SIGTERM');
    const deadline = Date.now() + Math.min(this.killGraceMs, 500);
    while (children.some((child) => stillRunning(child.pid!)) && Date.now() < deadline) sleepSync(20);
    for (const child of children) killQuietly(-child.pid!, 'SIGKILL');
    deleteNamespacesSync(this.namespaces);
    for (const ns of this.etcDirs) removeEtcDir(ns);
    rmSync(this.tmpDir, { recursive: true, force: true });
    this.destroyed = true;
    live.delete(this);
  }
}

/**
 * Builds a test bed of `hosts` namespaces on one bridge. Throws (with a clear
 * message) when this machine cannot; what was half-built is removed first.
 */
export async function createTestbed(options: TestbedOptions): Promise<Testbed> {
  const hostCount = options.hosts;
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > MAX_HOSTS) {
    throw new Error(`test bed: hosts must be an integer from 1 to ${MAX_HOSTS}, got ${hostCount}`);
  }
  requireRoot();
  if (options.sweep !== false) sweepStale();
  const subnet = await pickSubnet();
  const bed = new TestbedImpl(newPrefix(), options.name ?? 'testbed', subnet, options.killGraceMs ?? 2_000);
  live.add(bed);
  installHandlers();
  try {
    await bed.build(hostCount, options.resolvConf);
  } catch (error) {
    await bed.destroy().catch(() => {});
    throw error;
  }
  return bed;
}
