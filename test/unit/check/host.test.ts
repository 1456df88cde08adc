// The host checks before a join: Node.js, iptables (with a fake runner), and
// the agent's ports (decision table, then the probe on real sockets).

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { checkIptables, evaluateNodeVersion } from '../../../src/cli/check/host.ts';
import { evaluatePorts, probePort, type PortState } from '../../../src/cli/check/ports.ts';
import type { CommandRunner, RunResult } from '../../../src/iptables/runner.ts';

test('Node.js 24 or later passes, older fails with the way out', () => {
  const cases: Array<[string, 'pass' | 'fail']> = [['v24.21.0', 'pass'], ['v25.1.0', 'pass'], ['v20.19.2', 'fail'], ['v22.0.0', 'fail'], ['nonsense', 'fail']];
  for (const [version, status] of cases) assert.equal(evaluateNodeVersion(version).status, status, version);
  assert.match(evaluateNodeVersion('v20.19.2').hint!, /bin\/meshctl/);
});

const NFT: RunResult = { exitCode: 0, stdout: 'iptables v1.8.9 (nf_tables)', stderr: '' };
const LEGACY: RunResult = { exitCode: 0, stdout: 'iptables v1.8.7 (legacy)', stderr: '' };
const MISSING: RunResult = { exitCode: 127, stdout: '', stderr: 'iptables: not found' };
const OK: RunResult = { exitCode: 0, stdout: '*nat\nCOMMIT\n', stderr: '' };
const NO_NAT: RunResult = { exitCode: 1, stdout: '', stderr: "iptables-save v1.8.9 (nf_tables): table 'nat' does not exist\n" };

function runner(version: RunResult, save: RunResult): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run: async (file, args) => {
      calls.push([file, ...args].join(' '));
      return file === 'iptables' ? version : save;
    },
  };
}

test('iptables: problems fail only when transparent mode is meant; without root it can only warn', async () => {
  const cases: Array<[string, RunResult, RunResult, number, boolean, 'pass' | 'warn' | 'fail', RegExp]> = [
    ['nft, root', NFT, OK, 0, false, 'pass', /nft backend; iptables-save works/],
    ['legacy, root, transparent', LEGACY, OK, 0, true, 'pass', /legacy backend/],
    ['not installed', MISSING, OK, 0, false, 'warn', /not installed \(needed only for join --transparent\)/],
    ['not installed, transparent', MISSING, OK, 0, true, 'fail', /iptables is not installed$/],
    ['no nat table', NFT, NO_NAT, 0, false, 'warn', /iptables-save -t nat failed: iptables-save v1\.8\.9 \(nf_tables\): table 'nat' does not exist/],
    ['no nat table, transparent', NFT, NO_NAT, 0, true, 'fail', /table 'nat' does not exist/],
    ['not root, transparent', NFT, OK, 1000, true, 'warn', /only by root/],
  ];
  for (const [what, version, save, uid, transparent, status, detail] of cases) {
    const { run, calls } = runner(version, save);
    const verdict = await checkIptables({ run, getuid: () => uid, transparent });
    assert.equal(verdict.status, status, what);
    assert.match(verdict.detail, detail, what);
    if (uid !== 0) assert.deepEqual(calls, ['iptables --version'], `${what}: nothing that needs root is run`);
  }
});

const port = (p: Partial<PortState>): PortState => ({ host: '127.0.0.1', port: 15000, what: 'admin API', flag: '--admin-addr', proto: 'tcp', needed: true, state: 'free', ...p });

test('ports: a busy port the agent needs fails, one only transparent mode needs warns', () => {
  const cases: Array<[string, PortState[], 'pass' | 'warn' | 'fail', RegExp]> = [
    ['all free', [port({}), port({ port: 15006, what: 'proxy inbound' })], 'pass', /^15000\/tcp, 15006\/tcp$/],
    ['admin busy', [port({ state: 'EADDRINUSE' }), port({ port: 15006 })], 'fail', /^127\.0\.0\.1:15000\/tcp \(admin API\): in use$/],
    ['DNS busy, not transparent', [port({}), port({ port: 15053, proto: 'udp', what: 'DNS', needed: false, state: 'EADDRINUSE' })], 'warn', /15053\/udp \(DNS\): in use: needed only for join --transparent/],
    ['both kinds busy', [port({ state: 'EACCES' }), port({ port: 15053, needed: false, state: 'EADDRINUSE' })], 'fail', /15000\/tcp \(admin API\): EACCES; .*15053/],
  ];
  for (const [what, ports, status, detail] of cases) {
    const verdict = evaluatePorts(ports);
    assert.equal(verdict.status, status, what);
    assert.match(verdict.detail, detail, what);
  }
});

test("ports: the hint names the join flag of each port that is taken, and only those", () => {
  const cases: Array<[string, PortState[], string]> = [
    ['metrics busy', [port({}), port({ host: '0.0.0.0', port: 15090, what: 'metrics', flag: '--metrics-port', state: 'EADDRINUSE' })], "stop what listens there (ss -ltnup 'sport = :15090' names it), or give join another --metrics-port"],
    ['admin busy', [port({ state: 'EADDRINUSE' }), port({ port: 15090, flag: '--metrics-port' })], "stop what listens there (ss -ltnup 'sport = :15000' names it), or give join another --admin-addr"],
    ['DNS busy on udp and tcp', [port({}), port({ port: 15053, proto: 'udp', flag: '--dns-port', needed: false, state: 'EADDRINUSE' }), port({ port: 15053, flag: '--dns-port', needed: false, state: 'EADDRINUSE' })], "stop what listens there (ss -ltnup 'sport = :15053' names it), or give join another --dns-port"],
    ['two busy', [port({ state: 'EADDRINUSE' }), port({ port: 15006, what: 'proxy inbound', flag: '--inbound-addr', state: 'EADDRINUSE' })], "stop what listens there (ss -ltnup 'sport = :PORT' names it), or give join another --admin-addr, another --inbound-addr"],
  ];
  for (const [what, ports, hint] of cases) assert.equal(evaluatePorts(ports).hint, hint, what);
});

test('the probe finds a port held by a listener on the wildcard or on loopback, and leaves a free one free', async () => {
  for (const holder of ['0.0.0.0', '127.0.0.1']) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, holder, resolve));
    const held = (server.address() as { port: number }).port;
    assert.equal(await probePort('0.0.0.0', held, 'tcp'), 'EADDRINUSE', `held on ${holder}, probed on the wildcard`);
    assert.equal(await probePort('127.0.0.1', held, 'tcp'), 'EADDRINUSE', `held on ${holder}, probed on loopback`);
    await new Promise((resolve) => server.close(resolve));
    assert.equal(await probePort('127.0.0.1', held, 'tcp'), 'free', 'released');
  }
});
