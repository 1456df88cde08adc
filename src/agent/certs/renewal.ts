// When to renew a leaf: at a random point between 60% and 90% of its life
// (spread, so a fleet that got its certificates together does not renew in
// one burst), and at once when that point has passed, as after a pause or a
// suspend that outlived the certificate.

import type { Random } from '../../lib/clock.ts';

export const RENEW_FROM = 0.6;
export const RENEW_TO = 0.9;

/** Milliseconds since the epoch at which to renew a leaf valid from notBefore to notAfter. */
export function renewalTime(notBefore: number, notAfter: number, random: Random): number {
  const life = notAfter - notBefore;
  return notBefore + life * (RENEW_FROM + (RENEW_TO - RENEW_FROM) * random());
}

/** How long to wait from now; 0 when the time has come (or passed, or the leaf expired). */
export function renewalDelay(now: number, notBefore: number, notAfter: number, random: Random): number {
  if (now >= notAfter) return 0;
  return Math.max(0, renewalTime(notBefore, notAfter, random) - now);
}
