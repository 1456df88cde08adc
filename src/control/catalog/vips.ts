// Virtual IPs: each service name gets one address from 240.0.0.0/4 the first
// time it is registered, kept for good (an app or a DNS cache holding it must
// never reach another service). Stored as an index (mesh/vip/<name>), counted
// up by mesh/vip-next inside the registering transaction, so two servers on
// one store never hand out one address twice.

import type { Txn } from '../store/store.ts';

export const VIP_PREFIX = 'mesh/vip/';
const NEXT_KEY = 'mesh/vip-next';

export const vipKey = (service: string): string => `${VIP_PREFIX}${encodeURIComponent(service)}`;

/** Gives `service` its virtual IP index, unless it has one. */
export function ensureVip(txn: Txn, service: string): void {
  const key = vipKey(service);
  if (txn.get(key)) return;
  const next = (txn.get<number>(NEXT_KEY)?.value ?? 0) + 1;
  txn.put(NEXT_KEY, next);
  txn.put(key, next);
}
