// The demo's hosts without root: 127.0.X.1-3 on this machine's loopback
// (Linux answers for all of 127/8, so nothing is added and nothing is left
// to remove but processes and the temp dir). The hosts share one network
// stack, so every listener gets a free port instead of a well-known one.

import { createServer, type Server } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { HOST_COUNT, portNeeds, type PortSource } from './plan.ts';
import { HostsBase, sweepStaleQuietly, type DemoHost, type DemoHosts } from './hosts.ts';

/** Holds a free port on 127.0.0.1 open until every one is picked, so no two needs get the same. */
function hold(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function freePorts(): Promise<PortSource> {
  const ports = new Map<string, number>();
  const held: Server[] = [];
  try {
    for (let index = 0; index < HOST_COUNT; index++) {
      for (const what of portNeeds(index)) {
        const server = await hold();
        held.push(server);
        ports.set(`${index}/${what}`, (server.address() as { port: number }).port);
      }
    }
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
  return (host, what) => {
    const port = ports.get(`${host}/${what}`);
    if (port === undefined) throw new Error(`no port planned for host ${host} ${what}`);
    return port;
  };
}

class LoopbackHosts extends HostsBase implements DemoHosts {
  readonly mode = 'loopback' as const;
  readonly serverHost = '127.0.0.1';
  readonly hosts: DemoHost[] = [];
  readonly namespaces: string[] = [];
  readonly ports: PortSource;

  constructor(prefix: string, ports: PortSource) {
    super(prefix);
    this.ports = ports;
    // 127.0.X.0/24 with X random: two demos side by side get different addresses.
    const network = randomInt(100, 251);
    for (let index = 0; index < HOST_COUNT; index++) {
      const dir = join(this.tmpDir, `host-${index + 1}`);
      mkdirSync(dir);
      this.hosts.push({ index, ip: `127.0.${network}.${index + 1}`, dir, spawn: (name, argv, options) => this.procs.spawn(name, argv, options) });
    }
  }

  /** Nothing: 127/8 needs no address added. */
  protected removeMade(): void {}
}

export async function createLoopbackHosts(prefix: string): Promise<DemoHosts> {
  sweepStaleQuietly();
  return new LoopbackHosts(prefix, await freePorts());
}
