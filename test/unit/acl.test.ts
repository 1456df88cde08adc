import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorize, denyHint, type Permission, type TokenIdentity } from '../../src/control/acl/policy.ts';

const management: TokenIdentity = { accessorId: 'm', policy: 'management' };
const reader: TokenIdentity = { accessorId: 'r', policy: 'read' };
const agent: TokenIdentity = { accessorId: 'a', policy: 'agent', node: 'host-1', services: ['web', 'api'] };

const cases: Array<[string, TokenIdentity | undefined, Permission, boolean]> = [
  ['anonymous cannot write', undefined, { resource: 'service', access: 'write', name: 'web' }, false],
  ['anonymous cannot read the catalog', undefined, { resource: 'service', access: 'read', name: 'web' }, false],
  ['management writes anything', management, { resource: 'key', access: 'write', name: 'x' }, true],
  ['management manages tokens', management, { resource: 'acl', access: 'write' }, true],
  ['read reads services', reader, { resource: 'service', access: 'read', name: 'web' }, true],
  ['read reads KV', reader, { resource: 'key', access: 'read', name: 'x' }, true],
  ['read cannot write', reader, { resource: 'service', access: 'write', name: 'web' }, false],
  ['read cannot list tokens', reader, { resource: 'acl', access: 'read' }, false],
  ['agent registers its node', agent, { resource: 'node', access: 'write', name: 'host-1' }, true],
  ['agent cannot register another node', agent, { resource: 'node', access: 'write', name: 'host-2' }, false],
  ['agent registers its named services', agent, { resource: 'service', access: 'write', name: 'api' }, true],
  ['agent cannot register other services', agent, { resource: 'service', access: 'write', name: 'db' }, false],
  // Its metrics entry (meshctl-agent), only on the node it may write.
  ['agent registers its own metrics entry on its own node', agent, { resource: 'service', access: 'write', name: 'meshctl-agent', node: 'host-1' }, true],
  ['agent cannot write a metrics entry on another node (the server\'s, through /v1/agent/*)', agent, { resource: 'service', access: 'write', name: 'meshctl-agent', node: 'test-server' }, false],
  ['a metrics-entry write that names no node gets no exception (a CSR, a tap)', agent, { resource: 'service', access: 'write', name: 'meshctl-agent' }, false],
  ['management writes a metrics entry anywhere', management, { resource: 'service', access: 'write', name: 'meshctl-agent', node: 'test-server' }, true],
  ['read cannot register an agent metrics entry', reader, { resource: 'service', access: 'write', name: 'meshctl-agent' }, false],
  ['agent reads the catalog to find upstreams', agent, { resource: 'service', access: 'read', name: 'db' }, true],
  ['agent cannot read KV', agent, { resource: 'key', access: 'read', name: 'secrets/db' }, false],
  ['agent cannot write KV', agent, { resource: 'key', access: 'write', name: 'x' }, false],
  ['agent cannot manage tokens', agent, { resource: 'acl', access: 'write' }, false],
];

for (const [name, identity, permission, allowed] of cases) {
  test(name, () => {
    const decision = authorize(identity, permission);
    assert.equal(decision.allowed, allowed);
    if (!decision.allowed) assert.match(decision.reason, /^Permission denied: .* lacks permission '/);
  });
}

test('a refusal comes with a hint: the token the caller has, and the one the permission needs', () => {
  const rows: Array<[TokenIdentity | undefined, Permission, string]> = [
    [undefined, { resource: 'service', access: 'read', name: 'web' }, `pass a token with --token or MESHCTL_TOKEN (X-Consul-Token over HTTP); 'service:read' on "web" needs a read-only or management token (meshctl token create --policy read, on the server)`],
    [undefined, { resource: 'acl', access: 'read' }, `pass a token with --token or MESHCTL_TOKEN (X-Consul-Token over HTTP); 'acl:read' needs a management token (meshctl token create --policy management, on the server)`],
    [reader, { resource: 'operator', access: 'write' }, `the token is read-only; 'operator:write' needs a management token (meshctl token create --policy management, on the server)`],
    [agent, { resource: 'service', access: 'write', name: 'db' }, `the token is an agent token, which writes only its own node "host-1", service "web", service "api"; 'service:write' on "db" needs a management token (meshctl token create --policy management, on the server)`],
    [agent, { resource: 'key', access: 'read', name: 'x' }, `the token is an agent token, which writes only its own node "host-1", service "web", service "api"; 'key:read' on "x" needs a read-only or management token (meshctl token create --policy read, on the server)`],
  ];
  for (const [identity, permission, hint] of rows) {
    assert.equal(denyHint(identity, permission), hint);
    const decision = authorize(identity, permission);
    assert.equal(decision.allowed ? undefined : decision.hint, hint, 'authorize refuses with the same hint');
  }
});
