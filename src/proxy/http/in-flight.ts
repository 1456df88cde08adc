// The HTTP/1.1 exchanges in flight at the inbound stage, grouped by caller
// and service, so that a config change judges them again like TCP hops and
// HTTP/2 streams: an answer that streams for hours (server-sent events, a
// long download, a long poll) must not outlive its caller's access.
//
// Cheap on the request path: a connection looks its group up once (its caller
// and service never change), and a request adds its response to it and takes
// it out when it ends, keyed by the ServerResponse Node already made, with the
// request head the intentions already judged. No closure, no key string.

import type { ServerResponse } from 'node:http';
import type { HttpRequestHead } from '../authorize.ts';

/** One caller's exchanges with one local service: each response and the head it was judged on. */
export type ExchangeGroup = Map<ServerResponse, HttpRequestHead>;

export class InFlightExchanges {
  /**
   * Caller → service → group. Groups are kept when empty, so a keep-alive
   * connection's group stays valid: callers are identities the mesh CA
   * issued (or the one plaintext caller), so there are at most as many
   * groups as mesh services times local services.
   */
  private readonly groups = new Map<string, Map<string, ExchangeGroup>>();

  /** The group a connection's requests go in; the same one for every connection of this caller and service. */
  group(source: string, service: string): ExchangeGroup {
    let services = this.groups.get(source);
    if (!services) {
      services = new Map();
      this.groups.set(source, services);
    }
    let group = services.get(service);
    if (!group) {
      group = new Map();
      services.set(service, group);
    }
    return group;
  }

  /**
   * Calls `visit` for each exchange in flight. `visit` may end the exchange,
   * and so take it out of its group, while this runs (a Map's iteration
   * allows it).
   */
  forEach(visit: (source: string, service: string, res: ServerResponse, head: HttpRequestHead) => void): void {
    for (const [source, services] of this.groups) {
      for (const [service, group] of services) {
        for (const [res, head] of group) visit(source, service, res, head);
      }
    }
  }

  /** How many exchanges are in flight (tests, and leaks). */
  get size(): number {
    let n = 0;
    for (const services of this.groups.values()) for (const group of services.values()) n += group.size;
    return n;
  }
}
