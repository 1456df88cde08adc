// The mesh CA's state in the store: the cluster ID, the trust domain
// (<cluster-id>.mesh unless set), the leaf TTL, and the roots (the active
// one first). Made at the server's first start; the root key stays in the
// server's data dir (the store), never in an API answer.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { MeshError } from '../../lib/errors.ts';
import type { Store } from '../store/store.ts';
import { certificateHash, checkCsr, createRoot, crossSign, generateKeyPair, serverName, signLeaf, signServerCertificate } from '../../lib/pki/x509.ts';
import { spiffeIdOf, type ServiceIdentity } from '../../lib/pki/spiffe.ts';

export const CA_KEY = 'ca/state';
export const DEFAULT_LEAF_TTL_MS = 24 * 3_600_000;
export const MIN_LEAF_TTL_MS = 5 * 60_000;
const ROOT_TTL_MS = 10 * 365 * 86_400_000;

export interface CaRoot {
  id: string;
  certPem: string;
  keyPem: string;
  notBefore: string;
  notAfter: string;
  /** This root signed by the root it replaced: sent with its leaves, so hosts that trust only the old root accept them. */
  crossSignedPem?: string;
}

/** Roots kept after a rotation: the active one and the one before it, whose leaves are still out there. */
const ROOTS_KEPT = 2;

export interface CaState {
  clusterId: string;
  trustDomain: string;
  leafTtlMs: number;
  roots: CaRoot[];
}

export interface SignedLeaf {
  certPem: string;
  /** Certificates between the leaf and a root (the cross-signed root after a rotation). */
  chainPem: string[];
  spiffeId: string;
  identity: ServiceIdentity;
  validAfter: string;
  validBefore: string;
  rootId: string;
}

export class Authority {
  /** Called after a rotation commits (the server re-issues its own certificate). */
  onRotate: (() => void) | undefined;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly datacenter: string;

  constructor(store: Store, clock: Clock, datacenter: string) {
    this.store = store;
    this.clock = clock;
    this.datacenter = datacenter;
  }

  /** Makes the CA on first start; later starts keep it, and a new --leaf-ttl applies to new leaves. */
  async ensure(options: { trustDomain?: string; leafTtlMs?: number } = {}): Promise<CaState> {
    const leafTtlMs = options.leafTtlMs ?? DEFAULT_LEAF_TTL_MS;
    if (leafTtlMs < MIN_LEAF_TTL_MS) throw new MeshError('MESH_E_USAGE', `leaf TTL ${leafTtlMs} ms is under the 5 minute minimum`, { hint: 'give --leaf-ttl 5m or more' });
    const existing = this.store.get<CaState>(CA_KEY)?.value;
    if (existing) {
      if (existing.leafTtlMs !== leafTtlMs) await this.store.transact((txn) => txn.put(CA_KEY, { ...existing, leafTtlMs }));
      return this.state();
    }
    const clusterId = randomUUID();
    const trustDomain = options.trustDomain ?? `${clusterId}.mesh`;
    const root = this.makeRoot(trustDomain);
    const state: CaState = { clusterId, trustDomain, leafTtlMs, roots: [root] };
    await this.store.transact((txn) => {
      // Two servers starting on one store: the first CA wins.
      if (!txn.get(CA_KEY)) txn.put(CA_KEY, state);
    });
    return this.state();
  }

  state(): CaState {
    const state = this.store.get<CaState>(CA_KEY)?.value;
    if (!state) throw new MeshError('MESH_E_UNAVAILABLE', 'the CA is not initialised yet');
    return state;
  }

  activeRoot(): CaRoot {
    return this.state().roots[0] as CaRoot;
  }

  /** Signs a CSR after checking it; `may(service)` says whether the caller may have that identity. */
  sign(csrPem: string, may: (service: string) => boolean): SignedLeaf {
    const state = this.state();
    const check = checkCsr(csrPem, { trustDomain: state.trustDomain, datacenter: this.datacenter });
    if (!check.ok) throw new MeshError('MESH_E_BAD_REQUEST', `certificate request refused: ${check.reason}`);
    if (!may(check.identity.service)) {
      throw new MeshError('MESH_E_PERMISSION_DENIED', `Permission denied: the token may not register service "${check.identity.service}", so it may not have its certificate`);
    }
    const root = this.activeRoot();
    // Backdated a minute: a peer whose clock is slightly behind still accepts it.
    const notBefore = new Date(this.clock.now() - 60_000);
    const notAfter = new Date(this.clock.now() + state.leafTtlMs);
    const certPem = signLeaf({ publicKeyPem: check.publicKeyPem, identity: check.identity, rootCertPem: root.certPem, rootKeyPem: root.keyPem, notBefore, notAfter });
    return {
      certPem,
      chainPem: root.crossSignedPem ? [root.crossSignedPem] : [],
      spiffeId: spiffeIdOf(check.identity),
      identity: check.identity,
      validAfter: notBefore.toISOString(),
      validBefore: notAfter.toISOString(),
      rootId: root.id,
    };
  }

  /**
   * A new active root, cross-signed by the current one, which stays trusted:
   * leaves of either root verify everywhere while agents renew (they do at
   * once when their watch brings the new roots). Open connections are not
   * touched. Older roots than the previous one are dropped.
   */
  async rotate(options: { force?: boolean } = {}): Promise<CaState> {
    const state = this.state();
    const previous = this.activeRoot();
    // The root this rotation would drop signed leaves until the active one took over; they live one leaf TTL more.
    const dropped = state.roots.length >= ROOTS_KEPT ? state.roots[ROOTS_KEPT - 1] : undefined;
    const lastLeafExpiry = Date.parse(previous.notBefore) + 60_000 + state.leafTtlMs;
    if (dropped && !options.force && this.clock.now() < lastLeafExpiry) {
      throw new MeshError('MESH_E_CONFLICT', `rotating now would drop the root before the last one while its leaves may live until ${new Date(lastLeafExpiry).toISOString()}`, {
        hint: 'rotate again after that time (agents renew within seconds, but one that was offline may still hold such a leaf), or pass --force',
      });
    }
    const next = this.makeRoot(state.trustDomain);
    next.crossSignedPem = crossSign({ rootCertPem: next.certPem, issuerCertPem: previous.certPem, issuerKeyPem: previous.keyPem, notAfter: new Date(next.notAfter) });
    await this.store.transact((txn) => {
      const current = txn.get<CaState>(CA_KEY)?.value;
      // Two rotations at once: the second sees the first's root and refuses, rather than dropping it.
      if (current?.roots[0]?.id !== previous.id) throw new MeshError('MESH_E_CONFLICT', 'the CA was rotated by another request meanwhile', { hint: 'check with meshctl ca show, and rotate again if you still want to' });
      txn.put(CA_KEY, { ...current, roots: [next, ...current.roots].slice(0, ROOTS_KEPT) });
    });
    this.onRotate?.();
    return this.state();
  }

  /**
   * The server's own certificate for its TLS API, with a key made here: signed
   * by the active root (its cross-signed certificate in the chain), naming
   * server.<trust domain>.
   */
  serverCredentials(ttlMs: number): { keyPem: string; certPem: string; rootsPem: string[] } {
    const state = this.state();
    const root = this.activeRoot();
    const keys = generateKeyPair();
    const certPem = signServerCertificate({
      publicKeyPem: keys.publicKeyPem,
      dnsName: serverName(state.trustDomain),
      rootCertPem: root.certPem,
      rootKeyPem: root.keyPem,
      notBefore: new Date(this.clock.now() - 60_000),
      notAfter: new Date(this.clock.now() + ttlMs),
    });
    return { keyPem: keys.privateKeyPem, certPem: certPem + (root.crossSignedPem ?? ''), rootsPem: state.roots.map((r) => r.certPem) };
  }

  private makeRoot(trustDomain: string): CaRoot {
    const keys = generateKeyPair();
    const notBefore = new Date(this.clock.now() - 60_000);
    const notAfter = new Date(this.clock.now() + ROOT_TTL_MS);
    const certPem = createRoot({ keys, trustDomain, notBefore, notAfter, commonName: `meshctl CA ${trustDomain} ${notBefore.toISOString().slice(0, 19)}Z` });
    return { id: certificateHash(certPem), certPem, keyPem: keys.privateKeyPem, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() };
  }
}
