// Is a service's leaf certificate fit to serve? Pure: the agent's status
// gives the dates and the PEM, the server gives its current roots. A leaf is
// renewed between 60% and 90% of its life, so one with under 10% left has
// missed its renewals; one that does not chain to the server's roots will be
// refused by every other host once they drop the old root.

import { X509Certificate } from 'node:crypto';
import { failed, passed, warned, type Verdict } from './result.ts';
import { humanDuration } from './format.ts';

/** Under this share of its life left, the leaf should already have been renewed. */
export const LEAF_LOW_LIFE = 0.1;

export interface LeafFacts {
  readonly service: string;
  /** ISO dates; '' when the agent has no leaf for the service yet. */
  readonly notBefore: string;
  readonly notAfter: string;
  /** Whether the leaf chains to one of the server's current roots; undefined when not known (no roots, older agent). */
  readonly chainsToRoots: boolean | undefined;
}

const RENEW_HINT = 'the agent renews leaves itself: check it reaches the server (meshctl status) and its log under the data dir; meshctl join again re-issues them';

export function evaluateLeaf(facts: LeafFacts, now: number): Verdict {
  if (!facts.notAfter) return failed(`no certificate for ${facts.service} yet`, `the agent asks the CA at start: check its token may write service ${facts.service} (meshctl status, the agent log)`);
  const notBefore = Date.parse(facts.notBefore);
  const notAfter = Date.parse(facts.notAfter);
  if (now < notBefore) return failed(`not valid for another ${humanDuration(notBefore - now)} (from ${facts.notBefore})`, "this host's clock is behind the CA's: sync it (timedatectl set-ntp true)");
  if (now >= notAfter) return failed(`expired ${humanDuration(now - notAfter)} ago (${facts.notAfter})`, RENEW_HINT);
  if (facts.chainsToRoots === false) {
    return failed(`it does not chain to the server's current CA roots`, 'after a CA rotation the agent renews within seconds; if this persists, see the agent log or run meshctl join again');
  }
  const life = notAfter - notBefore;
  const left = notAfter - now;
  const lifeText = `expires in ${humanDuration(left)}, ${Math.round((left / life) * 100)}% of its ${humanDuration(life)} life left`;
  if (left < life * LEAF_LOW_LIFE) return warned(`${lifeText}: its renewal is overdue`, RENEW_HINT);
  return passed(facts.chainsToRoots === undefined ? `${lifeText}; roots not compared` : `${lifeText}; chains to the current roots`);
}

export interface RootSet {
  readonly rootPem: string;
  /** Cross-signed certificates published with the root (a rotation). */
  readonly intermediatesPem: readonly string[];
}

/**
 * Whether the leaf, through its own chain and the roots' intermediates,
 * is signed by one of the roots. Signatures are checked, not names only.
 */
export function chainsTo(leafPem: string, chainPem: readonly string[], roots: readonly RootSet[]): boolean {
  let current: X509Certificate;
  let anchors: X509Certificate[];
  let links: X509Certificate[];
  try {
    current = new X509Certificate(leafPem);
    anchors = roots.map((r) => new X509Certificate(r.rootPem));
    links = [...chainPem, ...roots.flatMap((r) => r.intermediatesPem)].map((pem) => new X509Certificate(pem));
  } catch {
    return false;
  }
  const signs = (issuer: X509Certificate, cert: X509Certificate) => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  const used = new Set<X509Certificate>();
  // Each step climbs one certificate; a chain longer than the links given cannot exist.
  for (let step = 0; step <= links.length; step++) {
    if (anchors.some((root) => signs(root, current))) return true;
    const next = links.find((link) => !used.has(link) && signs(link, current));
    if (!next) return false;
    used.add(next);
    current = next;
  }
  return false;
}
