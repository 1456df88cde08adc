import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Packet, RecordType } from 'dns-packet';
import { decide, meshName } from '../../../src/dns/mesh-zone.ts';

const records = new Map([['web', '240.0.0.1']]);
const query = (name: string, type: RecordType = 'A'): Packet => ({ type: 'query', id: 7, flags: 1 << 8, questions: [{ name, type, class: 'IN' }] });
const rcodeOf = (packet: Packet) => (packet.flags ?? 0) & 0xf;

test('names split into mesh zone and service, case-insensitively', () => {
  const table: Array<[string, ReturnType<typeof meshName>]> = [
    ['web.mesh', { zone: 'mesh', service: 'web' }],
    ['WEB.Mesh.', { zone: 'Mesh', service: 'web' }],
    ['web.service.consul', { zone: 'service.consul', service: 'web' }],
    ['Web.SERVICE.consul', { zone: 'SERVICE.consul', service: 'web' }],
    ['mesh', { zone: 'mesh', service: '' }],
    ['example.com', undefined],
    ['web.node.consul', undefined],
    ['notmesh', undefined],
    ['web.meshy', undefined],
  ];
  for (const [name, want] of table) assert.deepEqual(meshName(name), want, name);
});

test('each query gets its answer or is forwarded', () => {
  const table: Array<[string, Packet, 'forward' | { rcode: number; answers: number; aa: boolean }]> = [
    ['known service, A', query('web.mesh'), { rcode: 0, answers: 1, aa: true }],
    ['known service, Consul spelling', query('web.service.consul'), { rcode: 0, answers: 1, aa: true }],
    ['known service, AAAA is NODATA', query('web.mesh', 'AAAA'), { rcode: 0, answers: 0, aa: true }],
    ['unknown service is NXDOMAIN', query('nope.mesh'), { rcode: 3, answers: 0, aa: true }],
    ['the zone apex exists', query('mesh', 'SOA'), { rcode: 0, answers: 1, aa: true }],
    ['outside the mesh is forwarded', query('example.com'), 'forward'],
    ['other .consul names are forwarded', query('web.node.consul'), 'forward'],
    ['non-QUERY opcodes are NOTIMP', { ...query('web.mesh'), flags: (2 << 11) | (1 << 8) }, { rcode: 4, answers: 0, aa: false }],
  ];
  for (const [name, packet, want] of table) {
    const decision = decide(packet, records, 5);
    if (want === 'forward') {
      assert.equal(decision.kind, 'forward', name);
      continue;
    }
    assert.equal(decision.kind, 'answer', name);
    if (decision.kind !== 'answer') continue;
    assert.equal(rcodeOf(decision.response), want.rcode, name);
    assert.equal(decision.response.answers?.length ?? 0, want.answers, name);
    assert.equal(((decision.response.flags ?? 0) & (1 << 10)) !== 0, want.aa, name);
    assert.equal(decision.response.id, 7, name);
  }
});

test('the answer echoes the question’s case and carries the TTL', () => {
  const decision = decide(query('Web.MESH'), records, 30);
  assert.equal(decision.kind, 'answer');
  if (decision.kind !== 'answer') return;
  assert.deepEqual(decision.response.answers, [{ type: 'A', name: 'Web.MESH', ttl: 30, class: 'IN', data: '240.0.0.1' }]);
});
