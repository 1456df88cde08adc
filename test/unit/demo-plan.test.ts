// The demo's plan: which host runs what, its ports, the join and app argv,
// the mesh config it writes, and the choice of its private /24. Pure.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentTokenArgs, appArgs, describeHost, joinArgs, readTokenArgs, meshCommands, planHosts, portNeeds, wellKnownPort, HOST_COUNT, type PortSource } from '../../src/demo/plan.ts';
import { gatewayAddress, hostAddress, overlaps, parseCidr, pickSubnet } from '../../src/demo/subnet.ts';
import { seededRandom } from '../../src/lib/seeded-random.ts';
import { tokenSecretOf } from '../../src/demo/control-plane.ts';

const IPS = ['10.213.7.1', '10.213.7.2', '10.213.7.3'];

test('three hosts: frontend and traffic, api v1, api v2 and db', () => {
  const plan = planHosts(IPS, wellKnownPort);
  assert.deepEqual(plan.map(describeHost), ['frontend, traffic', 'api v1', 'api v2, db']);
  assert.deepEqual(plan.map((h) => h.node), ['host-1', 'host-2', 'host-3']);
  assert.equal(HOST_COUNT, 3);
  assert.throws(() => planHosts(IPS.slice(0, 2), wellKnownPort), /3 hosts/);
});

const TLS_API = { addr: '10.213.7.254:41001', caHash: `sha256:${'ab'.repeat(32)}` };

test("host-3's join: the TLS API with the CA pinned, both services with checks, api tagged v2, db reached as api, its own dirs and addresses", () => {
  const host = planHosts(IPS, wellKnownPort)[2]!;
  assert.deepEqual(joinArgs(host, TLS_API, '/tmp/d/data', '/tmp/d/conf'), [
    'join', '10.213.7.254:41001', '--ca-hash', `sha256:${'ab'.repeat(32)}`, '--foreground', '--node-name', 'host-3', '--advertise-addr', '10.213.7.3',
    '--service', 'api=8081,check=http://127.0.0.1:8081/health,interval=1s,tags=v2',
    '--service', 'db=8082,check=http://127.0.0.1:8082/health,interval=1s',
    '--upstream', 'db:9002,as=api',
    '--data-dir', '/tmp/d/data', '--config-dir', '/tmp/d/conf', '--admin-addr', '127.0.0.1:15000', '--inbound-addr', '10.213.7.3:15006',
    '--metrics-port',
    '15090', '--heartbeat-interval', '2s',
  ]);
});

test('every join verifies the server by its CA pin, skips no check, and carries no token in argv (ps would show it)', () => {
  const table: Array<[string, readonly string[]]> = [
    ['namespaces', IPS],
    ['loopback', ['127.0.9.1', '127.0.9.2', '127.0.9.3']],
  ];
  for (const [mode, ips] of table) {
    for (const host of planHosts(ips, wellKnownPort)) {
      const args = joinArgs(host, TLS_API, '/d', '/c');
      assert.ok(!args.includes('--insecure-skip-verify'), `${mode} ${host.node}`);
      assert.ok(!args.includes('--token'), `${mode} ${host.node}`);
      assert.ok(!args.some((a) => a.startsWith('http://')), `${mode} ${host.node}: not the plain HTTP API`);
      assert.equal(args[args.indexOf('--ca-hash') + 1], TLS_API.caHash, `${mode} ${host.node}`);
    }
  }
});

test("each host's agent token may register its node and exactly the services its join registers; the dashboard's token is read-only", () => {
  const plan = planHosts(IPS, wellKnownPort);
  assert.deepEqual(plan.map(agentTokenArgs), [
    ['token', 'create', '--policy', 'agent', '--node', 'host-1', '--service', 'frontend', '--service', 'traffic', '--description', 'demo-host-1-agent', '--json'],
    ['token', 'create', '--policy', 'agent', '--node', 'host-2', '--service', 'api', '--description', 'demo-host-2-agent', '--json'],
    ['token', 'create', '--policy', 'agent', '--node', 'host-3', '--service', 'api', '--service', 'db', '--description', 'demo-host-3-agent', '--json'],
  ]);
  for (const host of plan) {
    const join = joinArgs(host, TLS_API, '/d', '/c');
    const registered = join.flatMap((a, i) => (join[i - 1] === '--service' ? [a.split('=')[0]!] : [])).sort();
    const token = agentTokenArgs(host);
    const allowed = token.flatMap((a, i) => (token[i - 1] === '--service' ? [a] : [])).sort();
    assert.deepEqual(allowed, registered, host.node);
    assert.equal(token[token.indexOf('--node') + 1], join[join.indexOf('--node-name') + 1], host.node);
  }
  assert.deepEqual(readTokenArgs(), ['token', 'create', '--policy', 'read', '--description', 'demo-dashboard', '--json']);
});

test("traffic's status listens on the host's address (read from outside it); the apps on 127.0.0.1, where the proxy delivers", () => {
  const [h1] = planHosts(IPS, wellKnownPort);
  const traffic = h1!.apps.find((a) => a.role === 'traffic')!;
  const frontend = h1!.apps.find((a) => a.role === 'frontend')!;
  assert.deepEqual(appArgs(traffic, { rate: 35, errorRate: 0.02, seed: 8 }), ['--role', 'traffic', '--host', '10.213.7.1', '--port', '8090', '--upstream-port', '9000', '--rate', '35']);
  assert.deepEqual(appArgs(frontend, { rate: 35, errorRate: 0.02, seed: 8 }), ['--role', 'frontend', '--host', '127.0.0.1', '--port', '8080', '--upstream-port', '9001']);
  const db = planHosts(IPS, wellKnownPort)[2]!.apps.find((a) => a.role === 'db')!;
  assert.deepEqual(appArgs(db, { rate: 20, errorRate: 0.05, seed: 3 }), ['--role', 'db', '--host', '127.0.0.1', '--port', '8082', '--error-rate', '0.05', '--seed', '3']);
});

test('portNeeds lists exactly the ports the plan asks for (what the loopback allocator must provide)', () => {
  const asked = new Set<string>();
  let next = 20000;
  const recording: PortSource = (host, what) => (asked.add(`${host}/${what}`), next++);
  const plan = planHosts(['127.0.9.1', '127.0.9.2', '127.0.9.3'], recording);
  const needed = new Set([0, 1, 2].flatMap((i) => portNeeds(i).map((w) => `${i}/${w}`)));
  assert.deepEqual([...asked].sort(), [...needed].sort());
  // On one loopback every listener differs.
  const ports = plan.flatMap((h) => [h.adminAddr, h.inboundAddr, ...h.apps.map((a) => String(a.port)), ...h.upstreams.map((u) => String(u.localPort))]).map((a) => a.split(':').pop());
  assert.equal(new Set(ports).size, ports.length);
});

test('the mesh config allows exactly the calls the plan makes (a new mesh denies the rest), and splits api over its two versions', () => {
  const plan = planHosts(IPS, wellKnownPort);
  const calls = plan.flatMap((h) => h.upstreams.map((u) => `${u.as}→${u.service}`)).sort();
  const commands = meshCommands();
  const allowed = commands.filter((c) => c[0] === 'intention').map((c) => `${c[2]}→${c[3]}`).sort();
  assert.deepEqual(allowed, [...new Set(calls)].sort());
  const versions = plan.flatMap((h) => h.apps.filter((a) => a.service === 'api').map((a) => a.version)).sort();
  assert.deepEqual(versions, ['v1', 'v2']);
  for (const v of versions) assert.ok(commands.some((c) => c.join(' ') === `subset set api ${v} --tag ${v}`), `subset ${v}`);
  assert.deepEqual(commands.at(-1), ['split', 'api', 'v1=80', 'v2=20']);
  // Every service that is called speaks HTTP, so the proxies see requests, not bytes.
  for (const callee of new Set(plan.flatMap((h) => h.upstreams.map((u) => u.service)))) {
    assert.ok(commands.some((c) => c.join(' ') === `config set service-defaults ${callee} protocol=http`), callee);
  }
});

test('CIDRs overlap when one contains the other or they are the same', () => {
  const table: Array<[string, string, boolean]> = [
    ['10.1.2.0/24', '10.1.2.77', true],
    ['10.0.0.0/8', '10.213.7.0/24', true],
    ['10.1.2.0/24', '10.1.3.0/24', false],
    ['0.0.0.0/0', '192.168.1.0/24', true],
    ['172.16.0.0/12', '172.32.0.0/24', false],
  ];
  for (const [a, b, want] of table) assert.equal(overlaps(parseCidr(a)!, parseCidr(b)!), want, `${a} ${b}`);
  assert.equal(parseCidr('10.1.2.300/24'), undefined);
  assert.equal(parseCidr('10.1.2.0/33'), undefined);
});

test("the demo's /24 avoids every address and route of the machine; none is found when all overlap", () => {
  const used = ['10.0.0.0/9', '10.200.0.0/13', '10.208.0.0/12', '10.224.0.0/11', '172.16.0.0/13'].map((c) => parseCidr(c)!);
  for (let seed = 1; seed <= 50; seed++) {
    const subnet = pickSubnet(used, seededRandom(seed));
    assert.ok(subnet, `seed ${seed}`);
    assert.ok(!used.some((u) => overlaps(u, parseCidr(subnet)!)), `${subnet} overlaps`);
    assert.match(subnet, /^172\.(2[4-9]|3[01])\.\d+\.0\/24$/);
  }
  assert.equal(pickSubnet([parseCidr('0.0.0.0/0')!], seededRandom(1)), undefined);
  assert.equal(hostAddress('10.213.7.0/24', 0), '10.213.7.1');
  assert.equal(gatewayAddress('10.213.7.0/24'), '10.213.7.254');
});

test("the demo reads a token's SecretID from the CLI's log, whatever else the log holds", () => {
  const answer = '{\n  "AccessorID": "a1",\n  "SecretID": "s1"\n}\n';
  assert.equal(tokenSecretOf(answer), 's1');
  assert.equal(tokenSecretOf(`(node:12) ExperimentalWarning: something {odd}\n${answer}(node:12) more } text\n`), 's1', 'stderr lines around it');
  assert.equal(tokenSecretOf('{\n  "AccessorID": "a1"\n}\n'), undefined, 'no SecretID');
  assert.equal(tokenSecretOf('error: ACL not found\n'), undefined);
  assert.equal(tokenSecretOf('{\n  "SecretID": \n}\n'), undefined, 'not JSON');
});
