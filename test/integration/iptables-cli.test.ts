// `meshctl iptables` as an operator meets it: plan is a dry run whose output
// is kept as a golden file (UPDATE_GOLDEN=1 rewrites it), flag mistakes are
// one line with exit 2, and apply/show/remove work end to end inside a
// network namespace of the test bed (root; never the machine's own tables).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { MESHCTL } from '../helpers/server.ts';
import { createTestbed, type Testbed } from '../helpers/testbed.ts';

const GOLDEN = new URL('../unit/golden/iptables/plan-cli.txt', import.meta.url);

function meshctl(args: string[]) {
  const result = spawnSync(MESHCTL, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const PLAN_FLAGS = ['--proxy-uid', '998', '--inbound-port', '8080', '--inbound-port', '9090', '--exclude-outbound-port', '5432', '--exclude-outbound-cidr', '10.0.0.0/8,fd00::/8', '--redirect-dns'];

describe('meshctl iptables plan', () => {
  test('prints the IPv4, IPv6 and IPv6-refuse scripts, as in the golden file', () => {
    const { code, stdout, stderr } = meshctl(['iptables', 'plan', ...PLAN_FLAGS]);
    assert.equal(code, 0, stderr);
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(new URL('.', GOLDEN), { recursive: true });
      writeFileSync(GOLDEN, stdout);
    }
    assert.equal(stdout, readFileSync(GOLDEN, 'utf8'), 'rerun with UPDATE_GOLDEN=1 and review the diff if the change is intended');
  });

  test('--json gives the resolved config and the three scripts', () => {
    const { code, stdout } = meshctl(['iptables', 'plan', ...PLAN_FLAGS, '--json']);
    assert.equal(code, 0);
    const plan = JSON.parse(stdout) as { config: { excludeInboundPorts: number[]; excludeOutboundCidrs: string[] }; ipv4: string; ipv6: string; ipv6Refuse: string };
    assert.deepEqual(plan.config.excludeOutboundCidrs, ['10.0.0.0/8', 'fd00::/8']);
    assert.ok(plan.config.excludeInboundPorts.includes(22));
    assert.match(plan.ipv4, /^\*nat\n/);
    assert.match(plan.ipv6, /-d fd00::\/8 /);
    assert.match(plan.ipv6Refuse, /^\*filter\n/);
  });

  test('bad flags: one line naming the flag, the value and the fix, exit 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--proxy-uid', '998', '--inbound-port', '99999'], /--inbound-port "99999" is not a TCP port \(give 1-65535\)/],
      [['--proxy-uid', '998', '--exclude-outbound-cidr', '10.0.0.0/40'], /--exclude-outbound-cidr "10.0.0.0\/40" is not a CIDR/],
      [['--proxy-uid', '998', '--inbound-port', '8080,8080'], /--inbound-port 8080 is given twice/],
      [['--proxy-uid', '998', '--proxy-user', 'x'], /--proxy-uid and --proxy-user both given \(give one of them\)/],
      [['--proxy-user', 'meshctl-no-such-user'], /user meshctl-no-such-user does not exist \(give --proxy-uid N/],
    ];
    for (const [flags, message] of cases) {
      const { code, stderr } = meshctl(['iptables', 'plan', ...flags]);
      assert.equal(code, 2, flags.join(' '));
      assert.match(stderr, message);
      assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    }
  });
});

describe('meshctl iptables apply, show, remove in a network namespace', () => {
  let bed: Testbed | undefined;
  after(async () => {
    await bed?.destroy();
  });

  test('apply installs, show lists, remove takes everything back', async () => {
    bed = await createTestbed({ hosts: 1, name: 'iptables-cli' });
    const host = bed.hosts[0]!;
    const cli = (args: string[]) => host.exec(MESHCTL, args, { env: { PATH: process.env.PATH ?? '' } });
    const before = (await host.exec('iptables-save', ['-t', 'nat'])).stdout.replace(/^#.*\n/gm, '');

    const applied = await cli(['iptables', 'apply', '--proxy-uid', '4242', '--inbound-port', '8080']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied \(nft backend\): IPv4 redirected; IPv6 redirected/);

    const shown = await cli(['iptables', 'show', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const tables = JSON.parse(shown.stdout) as Array<{ family: number; table: string; lines: string[] }>;
    assert.deepEqual(tables.map((t) => `${t.family}/${t.table}`), ['4/nat', '6/nat']);
    assert.ok(tables[0]!.lines.some((l) => /--dport 8080 .*MESH_INBOUND_REDIRECT/.test(l)));

    const removed = await cli(['iptables', 'remove']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed \d+ meshctl rules and chains/);
    assert.equal((await cli(['iptables', 'show'])).stdout, 'no meshctl rules are installed\n');
    assert.equal((await host.exec('iptables-save', ['-t', 'nat'])).stdout.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]'), before.replace(/\[\d+:\d+\]/g, '[0:0]'));
  });
});
