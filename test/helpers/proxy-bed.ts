// An in-process proxy wired to itself on loopback: its upstream listener
// (127.0.0.1:<port>) reaches a service whose instances are apps on loopback,
// each behind this same proxy's inbound listener. The full path is taken
// (upstream listener → balancer → hop → inbound listener → app), with no agent
// and no server, so proxy behaviour is tested on its own.

import { systemClock, systemRandom } from '../../src/lib/clock.ts';
import { Proxy } from '../../src/proxy/proxy.ts';
import { makeTestCa, type TestCa } from './pki.ts';
import { compileIntentions, type IntentionEntry } from '../../src/config/intention-table.ts';
import type { RouteTable } from '../../src/config/route-table.ts';
import { freePort } from './listen.ts';

let bedCa: TestCa | undefined;
/** One CA for every bed in a test process. */
export function bedCertificateAuthority(): TestCa {
  bedCa ??= makeTestCa();
  return bedCa;
}

export { freePort };

export interface BedInstance {
  id: string;
  port: number;
  weight?: number;
  /** Another service than the bed's (a route's target); its instances sit behind the same proxy. */
  service?: string;
  tags?: string[];
}

export interface ProxyBed {
  proxy: Proxy;
  upstreamPort: number;
  inboundPort: number;
  /** Re-applies the table with other instances, service defaults or intentions. */
  set(instances: BedInstance[], serviceDefaults?: Record<string, unknown>, intentions?: BedIntentions, routes?: RouteTable): Promise<void>;
  close(): Promise<void>;
}

/**
 * The bed tests forwarding, so its mesh allows by default unless `intentions`
 * (entries and default) are given; intentions have their own tests.
 */
export interface BedIntentions {
  entries: IntentionEntry[];
  defaultPolicy: 'allow' | 'deny';
}

const ALLOW_ALL: BedIntentions = { entries: [], defaultPolicy: 'allow' };

export async function startProxyBed(service: string, instances: BedInstance[], serviceDefaults?: Record<string, unknown>, intentions: BedIntentions = ALLOW_ALL): Promise<ProxyBed> {
  const proxy = new Proxy({ inboundHost: '127.0.0.1', inboundPort: 0, clock: systemClock, random: systemRandom, log: () => {} });
  await proxy.start();
  // The bed calls itself: the service is both the caller and the callee, over mTLS like any hop.
  const ca = bedCertificateAuthority();
  const services = new Set([service, ...instances.map((i) => i.service ?? service)]);
  proxy.updateCertificates({ trustDomain: ca.trustDomain, rootsPem: [ca.certPem] }, new Map([...services].map((s) => [s, ca.leaf(s)])));
  const inboundPort = Number(proxy.inboundAddress.split(':').pop());
  const upstreamPort = await freePort();
  const set = async (list: BedInstance[], defaults?: Record<string, unknown>, rules: BedIntentions = intentions, routes?: RouteTable) => {
    const byService = new Map<string, BedInstance[]>();
    for (const i of list) byService.set(i.service ?? service, [...(byService.get(i.service ?? service) ?? []), i]);
    await proxy.apply({
      upstreams: [{ service, localPort: upstreamPort, caller: service }],
      instances: new Map([...byService].map(([s, is]) => [s, is.map((i) => ({ node: 'local', id: i.id, address: '127.0.0.1', port: i.port, weight: i.weight ?? 1, inboundPort, tags: i.tags ?? [], meta: {} }))])),
      serviceDefaults: new Map(defaults ? [...byService.keys()].map((s) => [s, defaults]) : []),
      intentions: compileIntentions(rules.entries, rules.defaultPolicy),
      routes,
      local: list.map((i) => ({ id: i.id, name: i.service ?? service, port: i.port })),
    });
  };
  await set(instances, serviceDefaults);
  return { proxy, upstreamPort, inboundPort, set, close: () => proxy.stop() };
}
