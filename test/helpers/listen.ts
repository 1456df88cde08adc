// A test's own listener on loopback, on a port the kernel picks: the port it got.
// And a port nothing listens on now (bound, then released), for a test that
// needs a refused connection or a listener that comes up later.

import type { Server as HttpServer } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';

export async function listenLoopback(server: NetServer | HttpServer, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as { port: number }).port;
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  const port = await listenLoopback(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
