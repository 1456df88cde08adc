// The host's service certificates. For each local service: a key made here
// (it never leaves the host), a CSR, a leaf signed by the mesh CA, all kept
// under DATA_DIR/certs (0600), renewed at a random point between 60% and 90%
// of the leaf's life and at once when the agent finds it past due (a pause,
// a suspend, a restart). A failed renewal is retried with backoff, and the
// current leaf is used until it expires. The roots are watched (a blocking
// query): when a rotation makes a new root active, every leaf of an older
// root is renewed within a couple of seconds, and the old root stays trusted.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock, Random, TimerHandle } from '../../lib/clock.ts';
import { spiffeIdOf } from '../../lib/pki/spiffe.ts';
import { createCsr, generateKeyPair, type KeyPairPem } from '../../lib/pki/x509.ts';
import { agentStateDir, writeFileAtomic } from '../config/agent-config.ts';
import { renewalDelay } from './renewal.ts';
import { makeDirs } from '../../lib/make-dirs.ts';

export interface CaClient {
  /** The CA's roots and trust domain, and the server's datacenter (part of every SPIFFE ID). */
  roots(): Promise<{ trustDomain: string; datacenter: string; rootsPem: string[]; activeRootId?: string }>;
  sign(csrPem: string): Promise<{ certPem: string; chainPem?: string[]; rootId?: string }>;
  /** A blocking watch of the roots; without it, roots are fetched at each renewal only. */
  watchRoots?(index: number, waitMs: number, signal: AbortSignal): Promise<{ index: number; roots: { trustDomain: string; rootsPem: string[]; activeRootId: string } }>;
}

export interface Leaf {
  service: string;
  spiffeId: string;
  certPem: string;
  /** Certificates between the leaf and its root (a cross-signed root after a rotation). */
  chainPem: string[];
  /** The root that signed it ('' when not known, e.g. a leaf from an older agent). */
  rootId: string;
  keyPem: string;
  notBefore: number;
  notAfter: number;
}

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;
const ROOTS_WAIT_MS = 5 * 60_000;
/** After a rotation, leaves are renewed within this spread, so a fleet does not ask the CA all at once. */
const ROTATION_SPREAD_MS = 2_000;

export class CertManager {
  /** onChange: a leaf or the roots changed; the proxy takes them all again. */
  private readonly options: { dataDir: string; client: CaClient; clock: Clock; random: Random; log: (line: string) => void; onChange?: () => void };
  private readonly leaves = new Map<string, Leaf>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly failures = new Map<string, number>();
  private services: string[] = [];
  private trustDomain = '';
  rootsPem: string[] = [];
  private activeRootId = '';
  private stopped = false;
  private watching: AbortController | undefined;

  constructor(options: CertManager['options']) {
    this.options = options;
  }

  private dir(): string {
    return join(agentStateDir(this.options.dataDir), 'certs');
  }

  /** Loads what is on disk and schedules each renewal (at once for a missing or past-due leaf). */
  start(services: readonly string[]): void {
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
    this.services = [...new Set(services)];
    makeDirs(this.dir(), 0o700);
    for (const service of [...this.leaves.keys()]) if (!this.services.includes(service)) this.leaves.delete(service);
    this.loadTrust();
    for (const service of this.services) {
      const leaf = this.leaves.get(service) ?? this.load(service);
      if (leaf) this.leaves.set(service, leaf);
      this.schedule(service);
    }
    // What was on disk serves at once: a restarted agent takes calls before the server answers.
    if (this.leaves.size > 0 && this.rootsPem.length > 0) this.options.onChange?.();
    if (!this.watching && this.options.client.watchRoots) void this.watchRoots((this.watching = new AbortController()));
  }

  private async watchRoots(abort: AbortController): Promise<void> {
    let index = 0;
    let failures = 0;
    while (!this.stopped && !abort.signal.aborted) {
      try {
        const result = await this.options.client.watchRoots!(index, ROOTS_WAIT_MS, abort.signal);
        failures = 0;
        if (result.index === index) continue;
        index = result.index;
        this.setTrust(result.roots.trustDomain, result.roots.rootsPem);
        this.activeRootId = result.roots.activeRootId;
        for (const [service, leaf] of this.leaves) {
          if (leaf.rootId === this.activeRootId) continue;
          this.log(`certificate for ${service} is from an older root; renewing it now that ${this.activeRootId.slice(0, 19)}… is active`);
          this.timers.get(service)?.cancel();
          this.timers.set(service, this.options.clock.after(Math.floor(this.options.random() * ROTATION_SPREAD_MS), () => void this.renew(service)));
        }
      } catch {
        if (this.stopped || abort.signal.aborted) return;
        failures++;
        // The server is away: renewals retry on their own; the watch waits and asks again.
        await new Promise<void>((resolve) => this.options.clock.after(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 6)), resolve));
      }
    }
  }

  private log(line: string): void {
    this.options.log(line);
  }

  /** The mesh roots and trust domain, as last fetched (and kept on disk). */
  trust(): { trustDomain: string; rootsPem: string[] } | undefined {
    return this.trustDomain && this.rootsPem.length > 0 ? { trustDomain: this.trustDomain, rootsPem: this.rootsPem } : undefined;
  }

  /** Every local service's current leaf, as PEM. */
  leavesPem(): Map<string, { certPem: string; keyPem: string }> {
    return new Map([...this.leaves].map(([service, leaf]) => [service, { certPem: [leaf.certPem, ...leaf.chainPem].join(''), keyPem: leaf.keyPem }]));
  }

  /** New roots from the watch (a CA rotation): kept, and handed to the proxy at once. */
  setTrust(trustDomain: string, rootsPem: string[]): void {
    if (trustDomain === this.trustDomain && rootsPem.join() === this.rootsPem.join()) return;
    this.trustDomain = trustDomain;
    this.rootsPem = rootsPem;
    this.saveTrust();
    this.options.onChange?.();
  }

  private saveTrust(): void {
    writeFileAtomic(join(this.dir(), 'trust.json'), `${JSON.stringify({ trustDomain: this.trustDomain, rootsPem: this.rootsPem })}\n`, 0o600);
  }

  private loadTrust(): void {
    if (this.rootsPem.length > 0) return;
    try {
      const saved = JSON.parse(readFileSync(join(this.dir(), 'trust.json'), 'utf8')) as { trustDomain?: unknown; rootsPem?: unknown };
      if (typeof saved.trustDomain === 'string' && Array.isArray(saved.rootsPem) && saved.rootsPem.every((r) => typeof r === 'string')) {
        this.trustDomain = saved.trustDomain;
        this.rootsPem = saved.rootsPem as string[];
      }
    } catch {
      // Nothing saved yet: the first renewal fetches the roots.
    }
  }

  stop(): void {
    this.stopped = true;
    this.watching?.abort();
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  leaf(service: string): Leaf | undefined {
    return this.leaves.get(service);
  }

  /** notBefore and the public certificates let `meshctl check` judge the leaf's remaining life and its chain to the server's roots. */
  status(): Array<{ service: string; spiffeId: string; notBefore: string; notAfter: string; valid: boolean; rootId: string; certPem: string; chainPem: string[] }> {
    const now = this.options.clock.now();
    return this.services.map((service) => {
      const leaf = this.leaves.get(service);
      return {
        service,
        spiffeId: leaf?.spiffeId ?? '',
        notBefore: leaf ? new Date(leaf.notBefore).toISOString() : '',
        notAfter: leaf ? new Date(leaf.notAfter).toISOString() : '',
        valid: leaf !== undefined && now < leaf.notAfter && now >= leaf.notBefore,
        rootId: leaf?.rootId ?? '',
        certPem: leaf?.certPem ?? '',
        chainPem: leaf?.chainPem ?? [],
      };
    });
  }

  private schedule(service: string): void {
    if (this.stopped) return;
    this.timers.get(service)?.cancel();
    const leaf = this.leaves.get(service);
    const delay = leaf ? renewalDelay(this.options.clock.now(), leaf.notBefore, leaf.notAfter, this.options.random) : 0;
    this.timers.set(service, this.options.clock.after(delay, () => void this.renew(service)));
  }

  /** Gets a new leaf now; public so a caller that finds one expired can ask at once. */
  async renew(service: string): Promise<void> {
    if (this.stopped) return;
    try {
      const { trustDomain, datacenter, rootsPem } = await this.options.client.roots();
      this.trustDomain = trustDomain;
      this.rootsPem = rootsPem;
      this.saveTrust();
      const keys = this.keysFor(service);
      const spiffeId = spiffeIdOf({ trustDomain: this.trustDomain, datacenter, service });
      const signed = await this.options.client.sign(createCsr(keys, [spiffeId]));
      const certPem = signed.certPem;
      const cert = new X509Certificate(certPem);
      const leaf: Leaf = { service, spiffeId, certPem, chainPem: signed.chainPem ?? [], rootId: signed.rootId ?? '', keyPem: keys.privateKeyPem, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
      writeFileAtomic(join(this.dir(), `${service}.crt`), [certPem, ...leaf.chainPem].join(''), 0o600);
      writeFileAtomic(join(this.dir(), `${service}.root`), `${leaf.rootId}\n`, 0o600);
      this.leaves.set(service, leaf);
      this.failures.delete(service);
      this.options.log(`certificate for ${service} (${spiffeId}) valid until ${cert.validTo}`);
      this.options.onChange?.();
      this.schedule(service);
    } catch (error) {
      const failures = (this.failures.get(service) ?? 0) + 1;
      this.failures.set(service, failures);
      const retryMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1));
      this.options.log(`certificate for ${service} not renewed (${(error as Error).message}); retrying in ${retryMs} ms`);
      if (!this.stopped) this.timers.set(service, this.options.clock.after(retryMs, () => void this.renew(service)));
    }
  }

  /** The service's key: made on this host once and kept; it never leaves it. */
  private keysFor(service: string): KeyPairPem {
    const keyPath = join(this.dir(), `${service}.key`);
    const pubPath = join(this.dir(), `${service}.pub`);
    try {
      return { privateKeyPem: readFileSync(keyPath, 'utf8'), publicKeyPem: readFileSync(pubPath, 'utf8') };
    } catch {
      const keys = generateKeyPair();
      writeFileAtomic(keyPath, keys.privateKeyPem, 0o600);
      writeFileAtomic(pubPath, keys.publicKeyPem, 0o600);
      return keys;
    }
  }

  private load(service: string): Leaf | undefined {
    try {
      const [certPem = '', ...chainPem] = readFileSync(join(this.dir(), `${service}.crt`), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g) ?? [];
      const keyPem = readFileSync(join(this.dir(), `${service}.key`), 'utf8');
      let rootId = '';
      try {
        rootId = readFileSync(join(this.dir(), `${service}.root`), 'utf8').trim();
      } catch {
        // A leaf from before roots were recorded: the roots watch renews it if its root is not the active one.
      }
      const cert = new X509Certificate(certPem);
      // For status only: the proxy reads the peer's identity from the DER, never from this string.
      const uri = /URI:(\S+)/.exec(cert.subjectAltName ?? '')?.[1]?.replace(/,$/, '') ?? '';
      return { service, spiffeId: uri, certPem, chainPem, rootId, keyPem, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
    } catch {
      return undefined;
    }
  }
}
