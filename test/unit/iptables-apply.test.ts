// The iptables executor and the proxy user against a fake command runner:
// root and install checks, the backend, the IPv6 fallbacks, rollback, and
// which saved rules count as meshctl's. (test/integration/iptables.test.ts
// runs the real thing in a network namespace.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshError } from '../../src/lib/errors.ts';
import { applyRules, detectBackend, removeRules } from '../../src/iptables/apply.ts';
import { ensureProxyUser, removeProxyUser } from '../../src/iptables/proxy-user.ts';
import { resolveTransparentConfig } from '../../src/iptables/rules.ts';
import type { CommandRunner, RunResult } from '../../src/iptables/runner.ts';
import { meshctlChains, meshctlLines, parseSave, removalScript, replacementScript } from '../../src/iptables/saved.ts';

type Handler = (file: string, args: readonly string[], input?: string) => Partial<RunResult> | undefined;

/** A runner that records calls; `handler` answers, anything else succeeds with empty output. */
function fakeRunner(handler: Handler = () => undefined) {
  const calls: string[] = [];
  const inputs: string[] = [];
  const run: CommandRunner = async (file, args, input) => {
    calls.push([file, ...args].join(' '));
    if (input !== undefined) inputs.push(input);
    const answer = handler(file, args, input) ?? {};
    return { exitCode: 0, stdout: file === 'iptables' && args[0] === '--version' ? 'iptables v1.8.9 (nf_tables)\n' : '', stderr: '', ...answer };
  };
  return { run, calls, inputs };
}

const config = resolveTransparentConfig({ proxyUid: 998, inboundPorts: [8080] });
const root = { getuid: () => 0, ipv6Enabled: () => true };
const isCode = (code: string, message: RegExp) => (error: unknown) => error instanceof MeshError && error.code === code && message.test(`${error.message} ${error.hint}`);

test('not root: refused before anything runs', async () => {
  const { run, calls } = fakeRunner();
  await assert.rejects(applyRules(config, { run, getuid: () => 1000 }), isCode('MESH_E_NOT_ROOT', /needs root.*sudo/));
  assert.deepEqual(calls, []);
});

test('iptables missing: the error says how to install it', async () => {
  const { run } = fakeRunner((file) => (file === 'iptables' ? { exitCode: 127 } : undefined));
  await assert.rejects(detectBackend({ run, getuid: () => 0 }), isCode('MESH_E_IPTABLES', /not installed.*apt-get install iptables/));
});

test('the backend is read from iptables --version', async () => {
  const table: Array<[string, string]> = [
    ['iptables v1.8.9 (nf_tables)', 'nft'],
    ['iptables v1.8.9 (legacy)', 'legacy'],
    ['iptables v1.6.1', 'legacy'],
  ];
  for (const [stdout, want] of table) {
    const { run } = fakeRunner((file) => (file === 'iptables' ? { stdout } : undefined));
    assert.equal(await detectBackend({ run, getuid: () => 0 }), want, stdout);
  }
});

test('apply loads the v4 and v6 nat scripts with --noflush and a lock wait', async () => {
  const { run, calls, inputs } = fakeRunner();
  const result = await applyRules(config, { run, ...root });
  assert.deepEqual(result, { backend: 'nft', ipv4: 'redirect', ipv6: 'redirect' });
  assert.ok(calls.includes('iptables-restore -w 5 --noflush'));
  assert.ok(calls.includes('ip6tables-restore -w 5 --noflush'));
  assert.ok(inputs.every((i) => i.startsWith('*nat\n')));
});

test('ip6tables nat refuses the rules: the IPv6 refuse script goes in instead', async () => {
  const { run, inputs } = fakeRunner((file, _args, input) => (file === 'ip6tables-restore' && input?.startsWith('*nat') ? { exitCode: 2, stderr: "ip6tables-restore: unable to initialize table 'nat'\n" } : undefined));
  const result = await applyRules(config, { run, ...root });
  assert.equal(result.ipv6, 'refuse');
  assert.match(result.ipv6Reason ?? '', /unable to initialize table 'nat'/);
  assert.ok(inputs.some((i) => i.startsWith('*filter\n') && i.includes('MESH_REFUSE_OUTPUT')));
});

test('no ip6tables and no IPv6 in the kernel: IPv6 is off; with IPv6 on it is an error and v4 is taken back', async () => {
  const missing: Handler = (file) => (file.startsWith('ip6tables') ? { exitCode: 127 } : undefined);
  assert.equal((await applyRules(config, { run: fakeRunner(missing).run, getuid: () => 0, ipv6Enabled: () => false })).ipv6, 'off');

  const saved = `*nat\n:OUTPUT ACCEPT [0:0]\n:MESH_OUTPUT - [0:0]\n-A OUTPUT -m comment --comment "meshctl:output" -j MESH_OUTPUT\nCOMMIT\n`;
  let applied = false;
  const fake = fakeRunner((file, args, input) => {
    if (file === 'iptables-restore' && input?.includes('-I OUTPUT')) applied = true;
    if (file === 'iptables-save' && args.includes('nat') && applied) return { stdout: saved };
    return missing(file, args, input);
  });
  await assert.rejects(applyRules(config, { run: fake.run, ...root }), isCode('MESH_E_IPTABLES', /IPv6 is on but ip6tables is not installed/));
  assert.ok(fake.inputs.at(-1)?.includes('-D OUTPUT -m comment --comment "meshctl:output" -j MESH_OUTPUT'), 'the v4 rules are removed again');
});

test('a refused v4 script is an error naming the tool and its complaint', async () => {
  const { run } = fakeRunner((file) => (file === 'iptables-restore' ? { exitCode: 2, stderr: "iptables-restore v1.8.9 (nf_tables): Couldn't load match `owner'\n" } : undefined));
  await assert.rejects(applyRules(config, { run, ...root }), isCode('MESH_E_IPTABLES', /iptables-restore refused the rules: .*owner/));
});

test('remove with nothing of meshctl installed runs no restore', async () => {
  const { run, calls } = fakeRunner((file, args) => (file.endsWith('-save') ? { stdout: `*${args[1]}\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j ACCEPT\nCOMMIT\n` } : undefined));
  assert.deepEqual(await removeRules({ run, getuid: () => 0 }), { removed: 0 });
  assert.ok(!calls.some((c) => c.includes('restore')));
});

const SAVED = `# Generated by iptables-save v1.8.9
*nat
:PREROUTING ACCEPT [3:180]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:MESH_OTHER - [0:0]
:MESH_INBOUND - [0:0]
:MESH_INBOUND_REDIRECT - [0:0]
:MESH_OUTPUT - [0:0]
:MESH_DNS - [0:0]
-A PREROUTING -p tcp -m comment --comment "meshctl:inbound" -j MESH_INBOUND
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT -m comment --comment "not-meshctl:x" -j RETURN
-A OUTPUT -m comment --comment meshctl:output -j MESH_OUTPUT
-A DOCKER -i docker0 -m comment --comment "meshctl:output" -j RETURN
-A MESH_OTHER -p tcp --dport 1 -j RETURN
-A MESH_INBOUND -p tcp -m tcp --dport 8080 -m comment --comment "meshctl:inbound-port" -j MESH_INBOUND_REDIRECT
-A MESH_INBOUND_REDIRECT -p tcp -m comment --comment "meshctl:inbound-redirect" -j REDIRECT --to-ports 15006
-A MESH_OUTPUT -m comment --comment "meshctl:outbound" -j RETURN
COMMIT
# Completed
`;

test("meshctl's chains are the MESH_* ones made only of its rules; a MESH_ chain of someone else's stays", () => {
  const saved = parseSave(SAVED, 'nat');
  assert.deepEqual(meshctlChains(saved), ['MESH_INBOUND', 'MESH_INBOUND_REDIRECT', 'MESH_OUTPUT', 'MESH_DNS']);
  assert.deepEqual(meshctlChains(parseSave(SAVED, 'filter')), []);
});

test('the removal script deletes tagged rules in built-in chains, then flushes and deletes the chains', () => {
  assert.equal(
    removalScript(parseSave(SAVED, 'nat')),
    `*nat
-D PREROUTING -p tcp -m comment --comment "meshctl:inbound" -j MESH_INBOUND
-D OUTPUT -m comment --comment meshctl:output -j MESH_OUTPUT
-F MESH_INBOUND
-F MESH_INBOUND_REDIRECT
-F MESH_OUTPUT
-F MESH_DNS
-X MESH_INBOUND
-X MESH_INBOUND_REDIRECT
-X MESH_OUTPUT
-X MESH_DNS
COMMIT
`,
  );
  assert.equal(removalScript(parseSave('*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', 'nat')), undefined);
});

test('show lists the chains and the tagged rules, nothing else', () => {
  const lines = meshctlLines(parseSave(SAVED, 'nat'));
  assert.ok(!lines.some((l) => /MESH_OTHER|DOCKER -i|not-meshctl|addrtype/.test(l)), lines.join('\n'));
  assert.equal(lines.length, 4 + 5);
});

test('the proxy user is reused when it exists, created as a system user otherwise', async () => {
  const existing = fakeRunner((file) => (file === 'getent' ? { stdout: 'meshctl-proxy:x:998:997::/nonexistent:/usr/sbin/nologin\n' } : undefined));
  assert.deepEqual(await ensureProxyUser('meshctl-proxy', existing.run), { uid: 998, gid: 997, created: false });
  assert.ok(!existing.calls.some((c) => c.startsWith('useradd')));

  let made = false;
  const fresh = fakeRunner((file) => {
    if (file === 'useradd') made = true;
    if (file === 'getent') return made ? { stdout: 'meshctl-proxy:x:996:995::/:/usr/sbin/nologin\n' } : { exitCode: 2 };
    return undefined;
  });
  assert.deepEqual(await ensureProxyUser('meshctl-proxy', fresh.run), { uid: 996, gid: 995, created: true });
  assert.ok(fresh.calls.includes('useradd --system --no-create-home --user-group --shell /usr/sbin/nologin meshctl-proxy'));

  await removeProxyUser('meshctl-proxy', fresh.run);
  assert.ok(fresh.calls.includes('userdel meshctl-proxy'));
  await assert.rejects(ensureProxyUser('Bad Name', fresh.run), isCode('MESH_E_USAGE', /--proxy-user "Bad Name"/));
});

test('a replacement is one transaction: old jumps out, chains declared again, unused chains deleted, new rules in', () => {
  const next = '*nat\n:MESH_OUTPUT - [0:0]\n-A MESH_OUTPUT -p tcp -m comment --comment meshctl:outbound -j RETURN\n-I OUTPUT 1 -m comment --comment meshctl:output -j MESH_OUTPUT\nCOMMIT\n';
  assert.equal(
    replacementScript(parseSave(SAVED, 'nat'), next),
    `*nat
-D PREROUTING -p tcp -m comment --comment "meshctl:inbound" -j MESH_INBOUND
-D OUTPUT -m comment --comment meshctl:output -j MESH_OUTPUT
:MESH_OUTPUT - [0:0]
-F MESH_INBOUND
-F MESH_INBOUND_REDIRECT
-F MESH_DNS
-X MESH_INBOUND
-X MESH_INBOUND_REDIRECT
-X MESH_DNS
-A MESH_OUTPUT -p tcp -m comment --comment meshctl:outbound -j RETURN
-I OUTPUT 1 -m comment --comment meshctl:output -j MESH_OUTPUT
COMMIT
`,
  );
});
