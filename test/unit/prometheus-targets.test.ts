// Catalog → Prometheus HTTP SD target groups, with Consul SD's labels.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sanitizeLabelName, targetGroups } from '../../src/control/catalog/prometheus-targets.ts';
import type { CheckRecord, NodeRecord, ServiceRecord } from '../../src/control/catalog/types.ts';

const node = (name: string, address: string, meta: Record<string, string> = {}): NodeRecord => ({ ID: '', Node: name, Address: address, Datacenter: 'dc1', TaggedAddresses: {}, Meta: meta });
const service = (change: Partial<ServiceRecord>): ServiceRecord => ({ Kind: '', ID: 'meshctl-agent', Service: 'meshctl-agent', Tags: ['meshctl', 'metrics'], Address: '', Port: 15090, SocketPath: '', TaggedAddresses: {}, Meta: { 'meshctl-internal': 'true' }, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, ...change } as ServiceRecord);
const check = (serviceId: string, status: CheckRecord['Status']): CheckRecord => ({ Node: 'n', CheckID: `c-${serviceId}`, ServiceID: serviceId, Status: status } as CheckRecord);

test('each instance is one group: its address and port, and the labels consul_sd_configs would set', () => {
  const groups = targetGroups([{ node: node('host-1', '10.0.0.1', { 'meshctl-agent': '0.1.0' }), service: service({ Address: '10.0.0.1' }), nodeChecks: [] }], 'dc1');
  assert.deepEqual(groups, [{
    targets: ['10.0.0.1:15090'],
    labels: {
      __meta_consul_address: '10.0.0.1',
      __meta_consul_dc: 'dc1',
      __meta_consul_health: 'passing',
      __meta_consul_node: 'host-1',
      __meta_consul_service: 'meshctl-agent',
      __meta_consul_service_address: '10.0.0.1',
      __meta_consul_service_id: 'meshctl-agent',
      __meta_consul_service_port: '15090',
      __meta_consul_tags: ',meshctl,metrics,',
      __meta_consul_metadata_meshctl_agent: '0.1.0',
      __meta_consul_service_metadata_meshctl_internal: 'true',
    },
  }]);
});

test('a service without an address is reached at its node; IPv6 is bracketed; health is the worst bearing check', () => {
  const groups = targetGroups([
    { node: node('a', '10.0.0.2'), service: service({}), nodeChecks: [check('other', 'critical'), check('meshctl-agent', 'warning')] },
    { node: node('b', 'fd00::3'), service: service({ Port: 9 }), nodeChecks: [check('', 'critical')] },
  ], 'dc1');
  assert.deepEqual(groups.map((g) => [g.targets, g.labels.__meta_consul_health]), [[['10.0.0.2:15090'], 'warning'], [['[fd00::3]:9'], 'critical']]);
});

test('label names are sanitized as Prometheus does', () => {
  assert.equal(sanitizeLabelName('meshctl-inbound-port'), 'meshctl_inbound_port');
  assert.equal(sanitizeLabelName('a.b/c d_e9'), 'a_b_c_d_e9');
});
