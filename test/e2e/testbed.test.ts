// The multi-host test bed itself (test/helpers/testbed.ts): hosts reach each
// other and nothing else, and teardown leaves nothing behind, whether the run
// ends normally, is interrupted, or is killed outright.
//
// Needs root and network namespaces; without them createTestbed throws and
// these tests fail with its message (they never skip).

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createTestbed, sweepStale, type Testbed } from '../helpers/testbed.ts';
import { waitFor } from '../helpers/server.ts';

const NODE = process.execPath;
const HARNESS_URL = new URL('../helpers/testbed.ts', import.meta.url).href;
const PORT = 7070;

// A TCP server that answers every connection with its host's name.
const SERVER = `
const [ip, port, name] = process.argv.slice(1);
require('node:net').createServer((s) => s.end(name)).listen(Number(port), ip, () => console.log('listening'));
`;
// Connects to every ip:port given and prints what each answered (or the error).
const CLIENT = `
const net = require('node:net');
const ask = (target) => new Promise((resolve) => {
  const [host, port] = target.split(':');
  const socket = net.connect({ host, port: Number(port), timeout: 2000 });
  let data = '';
  socket.on('data', (chunk) => (data += chunk));
  socket.on('end', () => resolve(data));
  socket.on('timeout', () => { socket.destroy(); resolve('timeout'); });
  socket.on('error', (error) => resolve(error.code));
});
Promise.all(process.argv.slice(1).map(ask)).then((answers) => console.log(JSON.stringify(answers)));
`;

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter(Boolean);
}

/** Gone, or a zombie nobody reaped yet. */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return true;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Resolves with the first stdout line that matches. */
function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; got:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((candidate) => pattern.test(candidate));
      if (line !== undefined) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before printing ${pattern}; stdout:\n${out}`));
    });
  });
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

describe('a 3-host test bed', () => {
  let bed: Testbed;
  const resolvConf = 'nameserver 10.255.255.53\noptions timeout:1\n';

  before(async () => {
    bed = await createTestbed({ hosts: 3, name: 'selftest', resolvConf: [resolvConf, undefined, undefined] });
  });
  after(() => bed?.destroy());

  test('hosts are namespaces with one address each in the run\'s private /24', async () => {
    assert.equal(bed.hosts.length, 3);
    assert.match(bed.prefix, /^mt[0-9a-z]{3,7}$/);
    assert.match(bed.subnet, /^(10|172)\.\d+\.\d+\.0\/24$/);
    const listed = netnsList();
    for (const ns of [bed.bridgeNs, ...bed.hosts.map((host) => host.name)]) {
      assert.ok(ns.startsWith(`${bed.prefix}-`), ns);
      assert.ok(listed.includes(ns), `${ns} not in ip netns list`);
    }
    assert.ok(bed.bridge.length <= 15);
    assert.equal(new Set(bed.hosts.map((host) => host.ip)).size, 3);

    const network = ipToNumber(bed.subnet.split('/')[0]!);
    for (const host of bed.hosts) {
      const n = ipToNumber(host.ip);
      assert.ok(n > network && n < network + 255, `${host.ip} outside ${bed.subnet}`);
      const eth0 = await host.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'], { check: true });
      assert.match(eth0.stdout, new RegExp(`inet ${host.ip.replaceAll('.', '\\.')}/24 `));
      const all = await host.exec('ip', ['-4', '-o', 'addr', 'show'], { check: true });
      assert.equal(all.stdout.trim().split('\n').length, 2, all.stdout); // lo and eth0, nothing else
      const lo = await host.exec('ip', ['-o', 'link', 'show', 'lo'], { check: true });
      assert.match(lo.stdout, /[<,]UP[,>]/, 'loopback is up');
      assert.match(all.stdout, /inet 127\.0\.0\.1\/8/);
    }
  });

  test('no namespace has a default route; nothing routes off the machine', async () => {
    for (const host of bed.hosts) {
      const v4 = await host.exec('ip', ['-4', 'route', 'show', 'table', 'all'], { check: true });
      const v6 = await host.exec('ip', ['-6', 'route', 'show', 'table', 'all'], { check: true });
      assert.doesNotMatch(v4.stdout + v6.stdout, /^default/m, `${host.name} has a default route`);
      const main = await host.exec('ip', ['-4', 'route'], { check: true });
      assert.equal(main.stdout.trim(), `${bed.subnet} dev eth0 proto kernel scope link src ${host.ip}`);
      // A route lookup only (no packet is sent): outside the /24 is unreachable.
      const off = await host.exec('ip', ['route', 'get', '192.0.2.1']);
      assert.notEqual(off.code, 0);
      assert.match(off.stderr, /unreachable/i);
    }
    // The bridge namespace has no address and no route at all.
    const bridgeRoutes = execFileSync('ip', ['-n', bed.bridgeNs, '-4', 'route', 'show'], { encoding: 'utf8' });
    assert.equal(bridgeRoutes.trim(), '');
    const bridgeAddrs = execFileSync('ip', ['-n', bed.bridgeNs, '-4', '-o', 'addr', 'show', 'scope', 'global'], {
      encoding: 'utf8',
    });
    assert.equal(bridgeAddrs.trim(), '');
  });

  test('every host reaches every other over TCP', async () => {
    const servers = bed.hosts.map((host) => host.spawn(NODE, ['-e', SERVER, host.ip, String(PORT), host.name]));
    await Promise.all(servers.map((server) => waitForLine(server, /^listening$/)));
    for (const host of bed.hosts) {
      const others = bed.hosts.filter((other) => other !== host);
      const result = await host.exec(NODE, ['-e', CLIENT, ...others.map((other) => `${other.ip}:${PORT}`)], {
        check: true,
        timeoutMs: 10_000,
      });
      assert.deepEqual(JSON.parse(result.stdout), others.map((other) => other.name), `from ${host.name}`);
    }
    for (const server of servers) server.kill();
    await Promise.all(servers.map(exited));
  });

  test('/etc/netns/<ns>/resolv.conf gives a host its own resolver', async () => {
    const [first, second] = bed.hosts;
    assert.equal(readFileSync(`${first!.etcDir}/resolv.conf`, 'utf8'), resolvConf);
    assert.equal((await first!.exec('cat', ['/etc/resolv.conf'], { check: true })).stdout, resolvConf);
    assert.equal(existsSync(second!.etcDir), false);
    const own = 'nameserver 10.255.255.54\n';
    second!.setResolvConf(own);
    assert.equal((await second!.exec('cat', ['/etc/resolv.conf'], { check: true })).stdout, own);
    second!.setResolvConf(null);
    assert.notEqual((await second!.exec('cat', ['/etc/resolv.conf'])).stdout, own);
  });
});

describe('teardown', () => {
  test('destroy() kills processes, deletes the namespaces, /etc/netns dirs and temp dirs', async () => {
    const bed = await createTestbed({ hosts: 2, name: 'teardown', resolvConf: 'nameserver 10.255.255.53\n', killGraceMs: 300 });
    try {
      const [a, b] = bed.hosts;
      // A shell whose background child shares its process group.
      const shell = a!.spawn('sh', ['-c', 'sleep 300 & echo $!; wait']);
      const grandchild = Number(await waitForLine(shell, /^\d+$/));
      // A process that ignores SIGTERM: SIGKILL after the grace.
      const stubborn = b!.spawn(NODE, ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"]);
      await waitForLine(stubborn, /^ready$/);
      assert.ok(existsSync(a!.etcDir) && existsSync(bed.tmpDir) && existsSync(a!.dir));

      await bed.destroy();

      await Promise.all([exited(shell), exited(stubborn)]);
      assert.equal(stubborn.signalCode, 'SIGKILL');
      assert.ok(isGone(grandchild), `sleep ${grandchild} still runs`);
      const listed = netnsList();
      for (const ns of bed.namespaces) {
        assert.ok(!listed.includes(ns), `${ns} still in ip netns list`);
        assert.equal(existsSync(`/etc/netns/${ns}`), false, `/etc/netns/${ns} still there`);
      }
      assert.equal(existsSync(bed.tmpDir), false);
      assert.throws(() => a!.spawn('true'), /destroyed/);
    } finally {
      await bed.destroy();
    }
  });

  test('destroy() is safe to call twice', async () => {
    const bed = await createTestbed({ hosts: 1, name: 'twice' });
    const sleeper = bed.hosts[0]!.spawn('sleep', ['300']);
    const first = bed.destroy();
    const second = bed.destroy();
    await Promise.all([first, second]);
    await bed.destroy();
    await exited(sleeper);
    assert.ok(!netnsList().some((ns) => ns.startsWith(`${bed.prefix}-`)));
  });

  // A child process builds a test bed, starts a process in it, reports, waits.
  const CHILD = `
import { createTestbed } from ${JSON.stringify(HARNESS_URL)};
const bed = await createTestbed({ hosts: 2, name: 'child', resolvConf: 'nameserver 10.255.255.53\\n', killGraceMs: 200 });
const sleeper = bed.hosts[1].spawn('sleep', ['300']);
await new Promise((resolve) => sleeper.once('spawn', resolve));
console.log(JSON.stringify({ namespaces: bed.namespaces, etcDir: bed.hosts[0].etcDir, tmpDir: bed.tmpDir, sleeper: sleeper.pid }));
setInterval(() => {}, 1000);
`;
  interface ChildReport {
    namespaces: string[];
    etcDir: string;
    tmpDir: string;
    sleeper: number;
  }

  async function startChild(): Promise<{ child: ChildProcess; report: ChildReport }> {
    const child = spawn(NODE, ['--input-type=module', '-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const report = JSON.parse(await waitForLine(child, /^\{/, 20_000)) as ChildReport;
      return { child, report };
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  async function assertCleaned(report: ChildReport): Promise<void> {
    const listed = netnsList();
    for (const ns of report.namespaces) assert.ok(!listed.includes(ns), `${ns} still in ip netns list`);
    assert.equal(existsSync(report.etcDir), false, `${report.etcDir} still there`);
    // A killed process is gone once the kernel has torn it down, which a loaded machine may take a moment to do.
    await waitFor(() => isGone(report.sleeper), 5_000, `sleep ${report.sleeper} to be gone`);
  }

  test('an interrupted run (SIGTERM, SIGINT) cleans up in its signal handler', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { child, report } = await startChild();
      assert.equal(report.namespaces.length, 3);
      assert.ok(netnsList().includes(report.namespaces[0]!));
      child.kill(signal);
      await exited(child);
      assert.equal(child.signalCode, signal, 'the child still dies of the signal');
      await assertCleaned(report);
      assert.equal(existsSync(report.tmpDir), false);
    }
  });

  test('sweepStale() removes what a run killed with SIGKILL left, and nothing of live runs', async () => {
    const mine = await createTestbed({ hosts: 1, name: 'sweep', sweep: false });
    try {
      const { child, report } = await startChild();
      child.kill('SIGKILL');
      await exited(child);
      // Another run's createTestbed may have swept it meanwhile; either way it goes.
      const swept = sweepStale();
      for (const ns of mine.namespaces) assert.ok(!swept.namespaces.includes(ns), `live ${ns} was swept`);
      await assertCleaned(report);
      assert.equal(existsSync(report.tmpDir), false, 'the killed run\'s temp dir is swept too');
      const listed = netnsList();
      for (const ns of mine.namespaces) assert.ok(listed.includes(ns), `live ${ns} was swept`);
    } finally {
      await mine.destroy();
    }
  });
});
