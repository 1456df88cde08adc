// Catalog writes and reads over the store. Writes run inside a store
// transaction and touch exactly the topics whose results they change; a write
// that changes nothing touches nothing, so heartbeats and repeated TTL passes
// cost no disk write and wake no watcher.

import { ensureVip } from './vips.ts';
import { isMeshInternalService } from '../../config/agent-service.ts';
import { isDeepStrictEqual } from 'node:util';
import type { Store, StoredEntry, Txn } from '../store/store.ts';
import {
  CHECK_PREFIX,
  NODE_PREFIX,
  SERVICE_PREFIX,
  checkKey,
  checkPrefixOf,
  nodeKey,
  serviceKey,
  servicePrefixOf,
  topics,
} from './keys.ts';
import type { CheckRecord, HealthStatus, NodeRecord, ServiceRecord } from './types.ts';

export interface Reader {
  get<T>(key: string): StoredEntry<T> | undefined;
  list<T>(prefix: string): StoredEntry<T>[];
}

// ---- reads -------------------------------------------------------------------

export const getNode = (r: Reader, node: string) => r.get<NodeRecord>(nodeKey(node));
export const listNodes = (r: Reader) => r.list<NodeRecord>(NODE_PREFIX);
export const getService = (r: Reader, node: string, id: string) => r.get<ServiceRecord>(serviceKey(node, id));
export const servicesOn = (r: Reader, node: string) => r.list<ServiceRecord>(servicePrefixOf(node));
export const getCheck = (r: Reader, node: string, id: string) => r.get<CheckRecord>(checkKey(node, id));
export const checksOn = (r: Reader, node: string) => r.list<CheckRecord>(checkPrefixOf(node));
export const listAllServices = (r: Reader) => r.list<ServiceRecord>(SERVICE_PREFIX);
export const listAllChecks = (r: Reader) => r.list<CheckRecord>(CHECK_PREFIX);

export interface Instance {
  node: StoredEntry<NodeRecord>;
  service: StoredEntry<ServiceRecord>;
}

/** Every registered instance of a service, ordered by node then ID. */
export function instancesOf(r: Reader, name: string): Instance[] {
  const out: Instance[] = [];
  for (const service of listAllServices(r)) {
    if (service.value.Service !== name) continue;
    const node = r.get<NodeRecord>(nodeKey(nodeOfServiceKey(service.key)));
    if (node) out.push({ node, service });
  }
  return out;
}

const instancesMemo = new WeakMap<Store, { revision: number; byName: Map<string, Instance[]> }>();

/**
 * instancesOf read from the store itself (never a Txn, whose state moves under
 * a fixed revision), remembered until the store's revision moves. One change
 * wakes every watcher of a service at once and they all ask this of the same
 * state; each answer costs a pass over every service in the catalog.
 */
export function instancesInStore(store: Store, name: string): Instance[] {
  let memo = instancesMemo.get(store);
  if (!memo || memo.revision !== store.revision) {
    memo = { revision: store.revision, byName: new Map() };
    instancesMemo.set(store, memo);
  }
  let found = memo.byName.get(name);
  if (!found) {
    found = instancesOf(store, name);
    memo.byName.set(name, found);
  }
  return found.slice();
}

/** The node part of a service's store key. */
export function nodeOfServiceKey(key: string): string {
  const rest = key.slice(SERVICE_PREFIX.length);
  return decodeURIComponent(rest.slice(0, rest.indexOf('/')));
}

// ---- writes ------------------------------------------------------------------

/** Creates or updates a node. Returns the stored record. */
export function upsertNode(txn: Txn, node: NodeRecord): NodeRecord {
  const existing = txn.get<NodeRecord>(nodeKey(node.Node));
  const record: NodeRecord = { ...node, ID: node.ID || existing?.value.ID || '' };
  if (existing && isDeepStrictEqual(existing.value, record)) return existing.value;
  txn.put(nodeKey(node.Node), record);
  txn.touch(topics.nodes);
  touchNode(txn, node.Node);
  return record;
}

export function upsertService(txn: Txn, node: string, service: ServiceRecord): void {
  const key = serviceKey(node, service.ID);
  const existing = txn.get<ServiceRecord>(key);
  if (existing && isDeepStrictEqual(existing.value, service)) return;
  txn.put(key, service);
  // The mesh's own entries are never called through the mesh: no VIP, so no <name>.mesh and no transparent upstream.
  if (!isMeshInternalService(service.Service)) ensureVip(txn, service.Service);
  txn.touch(topics.services);
  txn.touch(topics.node(node));
  txn.touch(topics.service(service.Service));
  if (existing && existing.value.Service !== service.Service) txn.touch(topics.service(existing.value.Service));
  // A check's ServiceName and ServiceTags are read from its service.
  if (existing && !isDeepStrictEqual(existing.value.Tags, service.Tags)) txn.touch(topics.checks);
}

/** Removes a service and its checks. Returns whether it existed. */
export function removeService(txn: Txn, node: string, id: string): boolean {
  const existing = txn.get<ServiceRecord>(serviceKey(node, id));
  if (!existing) return false;
  for (const check of checksOn(txn, node)) {
    if (check.value.ServiceID === id) {
      txn.delete(check.key);
      txn.touch(topics.checks);
    }
  }
  txn.delete(existing.key);
  txn.touch(topics.services);
  txn.touch(topics.node(node));
  txn.touch(topics.service(existing.value.Service));
  return true;
}

export function upsertCheck(txn: Txn, check: CheckRecord): void {
  const key = checkKey(check.Node, check.CheckID);
  const existing = txn.get<CheckRecord>(key);
  if (existing && isDeepStrictEqual(existing.value, check)) return;
  txn.put(key, check);
  touchCheck(txn, check);
  if (existing && existing.value.ServiceID !== check.ServiceID) touchCheck(txn, existing.value);
}

export function removeCheck(txn: Txn, node: string, id: string): boolean {
  const existing = txn.get<CheckRecord>(checkKey(node, id));
  if (!existing) return false;
  txn.delete(existing.key);
  touchCheck(txn, existing.value);
  return true;
}

/** Sets a check's status and output. Returns false when the check does not exist. */
export function setCheckStatus(txn: Txn, node: string, id: string, status: HealthStatus, output: string): boolean {
  const existing = txn.get<CheckRecord>(checkKey(node, id));
  if (!existing) return false;
  upsertCheck(txn, { ...existing.value, Status: status, Output: output });
  return true;
}

/** Removes a node with everything registered on it. Returns whether it existed. */
export function removeNode(txn: Txn, node: string): boolean {
  const existing = txn.get<NodeRecord>(nodeKey(node));
  if (!existing) return false;
  for (const service of servicesOn(txn, node)) removeService(txn, node, service.value.ID);
  for (const check of checksOn(txn, node)) removeCheck(txn, node, check.value.CheckID);
  touchNode(txn, node);
  txn.delete(existing.key);
  txn.touch(topics.nodes);
  return true;
}

/** A change to a node, or to a node-level check, changes every service result on it. */
function touchNode(txn: Txn, node: string): void {
  txn.touch(topics.node(node));
  for (const service of servicesOn(txn, node)) txn.touch(topics.service(service.value.Service));
}

function touchCheck(txn: Txn, check: CheckRecord): void {
  txn.touch(topics.checks);
  if (check.ServiceID === '') {
    touchNode(txn, check.Node);
    return;
  }
  txn.touch(topics.node(check.Node));
  const service = txn.get<ServiceRecord>(serviceKey(check.Node, check.ServiceID));
  if (service) txn.touch(topics.service(service.value.Service));
}
