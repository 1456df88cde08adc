import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckRunner } from '../../src/agent/checks.ts';
import type { AgentConfig } from '../../src/agent/config/agent-config.ts';
import { parseServiceFlag } from '../../src/agent/config/service-spec.ts';
import { reconcile, registrations, type CheckState } from '../../src/agent/registration.ts';
import { nextCrashCount, restartDelay } from '../../src/agent/supervisor/backoff.ts';
import { RotatingLog } from '../../src/agent/supervisor/rotating-log.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { waitFor } from '../helpers/server.ts';

const config = (services: string[]): AgentConfig => ({
  version: 1, server: 'http://127.0.0.1:8500', token: 't', nodeName: 'host-1', advertiseAddr: '10.0.0.1',
  services: services.map(parseServiceFlag), upstreams: [], configDir: '/c', dataDir: '/d', adminAddr: '127.0.0.1:15000', inboundAddr: '0.0.0.0:15006',
  heartbeatIntervalMs: 10_000, syncIntervalMs: 30_000,
});

test('registrations carry the service, its weight and its check state', () => {
  const states = new Map<string, CheckState>([['service:web', { status: 'passing', output: 'ok' }]]);
  const [web] = registrations(config(['web=8080,check=tcp:127.0.0.1:8080,weight=3,tags=v1']), states, '0.1.0') as Array<Record<string, any>>;
  assert.equal(web!.Node, 'host-1');
  assert.equal(web!.Address, '10.0.0.1');
  assert.deepEqual(web!.Service, { ID: 'web', Service: 'web', Tags: ['v1'], Meta: {}, Address: '', Port: 8080, Weights: { Passing: 3, Warning: 1 } });
  assert.equal(web!.Check.Status, 'passing');
  assert.deepEqual(web!.Check.Definition, { TCP: '127.0.0.1:8080', Interval: '10s', Timeout: '5s' });
});

test('anti-entropy: a lost node, a changed service, a stale check or an extra service means work', () => {
  const cfg = config(['web=8080,check=ttl:10s']);
  const states = new Map<string, CheckState>([['service:web', { status: 'passing', output: '' }]]);
  const web = { ID: 'web', Service: 'web', Port: 8080, Address: '', Tags: [], Meta: {}, Weights: { Passing: 1, Warning: 1 } };
  const check = { CheckID: 'service:web', Status: 'passing', ServiceID: 'web' };
  assert.deepEqual(reconcile(cfg, states, { address: '10.0.0.1', services: { web }, checks: [check] }), { registerAll: false, deregister: [] });
  assert.equal(reconcile(cfg, states, undefined).registerAll, true, 'the node is gone');
  assert.equal(reconcile(cfg, states, { address: '10.0.0.1', services: { web: { ...web, Port: 9 } }, checks: [check] }).registerAll, true);
  assert.equal(reconcile(cfg, states, { address: '10.0.0.1', services: { web }, checks: [{ ...check, Status: 'critical' }] }).registerAll, true);
  assert.equal(reconcile(cfg, states, { address: '10.0.0.2', services: { web }, checks: [check] }).registerAll, true);
  assert.deepEqual(reconcile(cfg, states, { address: '10.0.0.1', services: { web, old: { ...web, ID: 'old' } }, checks: [check] }).deregister, ['old']);
});

test('checks start critical; probes report changes only; TTL checks expire unless refreshed', async () => {
  const clock = new FakeClock();
  const changes: string[] = [];
  let probeStatus: 'passing' | 'critical' = 'passing';
  const runner = new CheckRunner({ clock, probe: async () => ({ status: probeStatus, output: probeStatus }), onChange: (id, s) => changes.push(`${id}=${s.status}`) });
  runner.run(config(['web=1,check=http://127.0.0.1:1/,interval=1s', 'job=2,check=ttl:5s']).services);
  assert.equal(runner.states.get('service:web')?.status, 'critical');
  clock.advance(0);
  await waitFor(() => changes.includes('service:web=passing'));
  clock.advance(1000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(changes, ['service:web=passing'], 'an unchanged result is not a change');
  probeStatus = 'critical';
  clock.advance(1000);
  await waitFor(() => changes.includes('service:web=critical'));
  assert.equal(runner.updateTtl('service:job', 'passing', 'alive'), true);
  clock.advance(4000);
  assert.equal(runner.states.get('service:job')?.status, 'passing');
  clock.advance(1001);
  assert.equal(runner.states.get('service:job')?.status, 'critical');
  assert.equal(runner.updateTtl('service:web', 'passing', ''), false, 'only TTL checks take refreshes');
  runner.stop();
});

test('supervisor restarts back off exponentially, capped, and a healthy run resets them', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 20].map(restartDelay), [250, 500, 1000, 2000, 30_000, 30_000]);
  assert.equal(nextCrashCount(5, 1000), 6);
  assert.equal(nextCrashCount(5, 60_000), 1);
});

test('the agent log rotates by size and keeps a bounded number of files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = new RotatingLog(join(dir, 'agent.log'), { maxBytes: 100, keep: 2 });
  for (let i = 0; i < 10; i++) log.write(`${String(i).repeat(40)}\n`);
  assert.deepEqual(readdirSync(dir).sort(), ['agent.log', 'agent.log.1', 'agent.log.2']);
  assert.match(readFileSync(join(dir, 'agent.log'), 'utf8'), /^9{40}\n$/m);
});
