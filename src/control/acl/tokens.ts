// Token storage. The secret is shown once, when the token is made; the store
// keeps only its SHA-256 (secrets are random UUIDs, so a fast hash is enough).

import { createHash, randomUUID } from 'node:crypto';
import { MeshError, badRequest } from '../../lib/errors.ts';
import type { Store, StoredEntry } from '../store/store.ts';
import { POLICY_NAMES, type PolicyName, type TokenIdentity } from './policy.ts';

export const TOKEN_PREFIX = 'acl/token/';

export interface TokenRecord {
  AccessorID: string;
  SecretHash: string;
  Description: string;
  Policy: PolicyName;
  Node: string;
  Services: string[];
  CreateTime: string;
}

export interface NewToken {
  policy: PolicyName;
  description?: string;
  node?: string;
  services?: string[];
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export function validateNewToken(spec: NewToken): void {
  if (!POLICY_NAMES.includes(spec.policy)) {
    throw badRequest(`Invalid policy "${spec.policy}": use one of ${POLICY_NAMES.join(', ')}`);
  }
  if (spec.policy === 'agent' && !spec.node) throw badRequest('An agent token needs the node it may register (NodeIdentities)');
  if (spec.policy !== 'agent' && (spec.node || spec.services?.length)) {
    throw badRequest(`A ${spec.policy} token takes no node or services: those scope agent tokens`);
  }
}

export class TokenRegistry {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  /** Resolves a secret to its token; undefined when no token has that secret. */
  resolve(secret: string): TokenIdentity | undefined {
    const hash = hashSecret(secret);
    for (const entry of this.list()) {
      if (entry.value.SecretHash === hash) return identityOf(entry.value);
    }
    return undefined;
  }

  list(): StoredEntry<TokenRecord>[] {
    return this.store.list<TokenRecord>(TOKEN_PREFIX);
  }

  get(accessorId: string): StoredEntry<TokenRecord> | undefined {
    return this.store.get<TokenRecord>(TOKEN_PREFIX + accessorId);
  }

  /** Makes a token; the returned secret exists nowhere else. */
  async create(spec: NewToken, secret: string = randomUUID()): Promise<{ secret: string; entry: StoredEntry<TokenRecord> }> {
    validateNewToken(spec);
    const record: TokenRecord = {
      AccessorID: randomUUID(),
      SecretHash: hashSecret(secret),
      Description: spec.description ?? '',
      Policy: spec.policy,
      Node: spec.node ?? '',
      Services: spec.services ?? [],
      CreateTime: new Date().toISOString(),
    };
    await this.store.transact((txn) => txn.put(TOKEN_PREFIX + record.AccessorID, record));
    const entry = this.get(record.AccessorID);
    if (!entry) throw new MeshError('MESH_E_INTERNAL', 'token vanished after creation');
    return { secret, entry };
  }

  async revoke(accessorId: string): Promise<boolean> {
    const { result } = await this.store.transact((txn) => txn.delete(TOKEN_PREFIX + accessorId));
    return result;
  }
}

export function identityOf(record: TokenRecord): TokenIdentity {
  return {
    accessorId: record.AccessorID,
    policy: record.Policy,
    ...(record.Policy === 'agent' ? { node: record.Node, services: record.Services } : {}),
  };
}
