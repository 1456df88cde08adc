// ACL decisions, pure. A token carries one of three built-in policies:
//  - management: everything;
//  - agent: write its own node and the services it names, read the catalog;
//  - read: read the catalog, KV and mesh config (dashboards, Prometheus).
// There is no anonymous access while ACLs are on: a request without a token
// may only read the server's status, as with Consul's default-deny.

import { AGENT_SERVICE } from '../../config/agent-service.ts';

export type PolicyName = 'management' | 'agent' | 'read';
export const POLICY_NAMES: readonly PolicyName[] = ['management', 'agent', 'read'];

export interface TokenIdentity {
  readonly accessorId: string;
  readonly policy: PolicyName;
  /** For agent tokens: the node it may register. */
  readonly node?: string;
  /** For agent tokens: the services it may register. */
  readonly services?: readonly string[];
}

export type Permission =
  /** node: for a write, the node whose catalog entry is written; the agent's metrics entry needs it (below). */
  | { resource: 'service'; access: 'read' | 'write'; name: string; node?: string }
  | { resource: 'node'; access: 'read' | 'write'; name: string }
  | { resource: 'key'; access: 'read' | 'write'; name: string }
  | { resource: 'agent'; access: 'read' | 'write' }
  | { resource: 'acl'; access: 'read' | 'write' }
  | { resource: 'operator'; access: 'read' | 'write' };

/** A refusal says why (the body, Consul's words) and what to do (the hint header, which meshctl prints). */
export type Decision = { allowed: true } | { allowed: false; reason: string; hint: string };

const ALLOW: Decision = { allowed: true };

export function describePermission(p: Permission): string {
  const name = 'name' in p ? ` on "${p.name}"` : '';
  return `'${p.resource}:${p.access}'${name}`;
}

/** What a refused caller can do: the way to a token that holds the permission, from the one it has. */
export function denyHint(identity: TokenIdentity | undefined, permission: Permission): string {
  const reads = permission.access === 'read' && permission.resource !== 'acl';
  const needs = `${describePermission(permission)} needs ${reads ? 'a read-only or management token' : 'a management token'} (meshctl token create --policy ${reads ? 'read' : 'management'}, on the server)`;
  if (!identity) return `pass a token with --token or MESHCTL_TOKEN (X-Consul-Token over HTTP); ${needs}`;
  if (identity.policy === 'read') return `the token is read-only; ${needs}`;
  const own = [identity.node ? `node "${identity.node}"` : '', ...(identity.services ?? []).map((s) => `service "${s}"`)].filter(Boolean).join(', ');
  return `the token is an agent token, which writes only its own ${own || 'registrations'}; ${needs}`;
}

export function authorize(identity: TokenIdentity | undefined, permission: Permission): Decision {
  const deny = (who: string): Decision => ({
    allowed: false,
    reason: `Permission denied: ${who} lacks permission ${describePermission(permission)}`,
    hint: denyHint(identity, permission),
  });
  if (!identity) return deny('anonymous token');
  const who = `token with AccessorID '${identity.accessorId}'`;
  switch (identity.policy) {
    case 'management':
      return ALLOW;
    case 'read':
      if (permission.access === 'read' && permission.resource !== 'acl') return ALLOW;
      return deny(who);
    case 'agent':
      if (permission.access === 'read') {
        // Agents discover upstreams and read their own config, but not KV data or tokens.
        return permission.resource === 'key' || permission.resource === 'acl' ? deny(who) : ALLOW;
      }
      if (permission.resource === 'node' && permission.name === identity.node) return ALLOW;
      if (permission.resource === 'service' && identity.services?.includes(permission.name)) return ALLOW;
      // Every agent registers its own metrics entry, and only on its own node: a write that does not say
      // which node it lands on (the /v1/agent/* endpoints write the server's node, a CSR names no node)
      // gets no exception, or any agent token could point Prometheus at an address of its choosing.
      if (permission.resource === 'service' && permission.name === AGENT_SERVICE && permission.node !== undefined && permission.node === identity.node) return ALLOW;
      return deny(who);
  }
}
