// The agent's metrics port: GET /metrics answers the text exposition, any
// other path 404, any other method 405. One port on several addresses (the
// loopback for a local scraper, the host's address for a Prometheus
// elsewhere); with port 0 the first listener picks it and the others take the
// same one, so the catalog can carry a single port.

import { createServer, type Server } from 'node:http';
import { pathOnly } from '../../lib/http/path-normalize.ts';

export interface MetricsSource {
  exposition(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(source: MetricsSource, hosts: readonly string[], port: number, log: (line: string) => void = () => {}): Promise<MetricsServer> {
  const servers: Server[] = [];
  let bound = port;
  try {
    for (const host of [...new Set(hosts)]) {
      const server = createServer((req, res) => {
        const path = pathOnly(req.url ?? '/');
        if (path !== '/metrics') {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at GET /metrics\n');
          return;
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end(`method ${req.method} not allowed (use GET)\n`);
          return;
        }
        source.exposition().then(
          ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
          (error: Error) => {
            log(`metrics: a collector failed: ${error.message}`);
            res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics collection failed: ${error.message}\n`);
          },
        );
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(bound, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      bound = (server.address() as { port: number }).port;
    }
  } catch (error) {
    await closeAll(servers);
    throw error;
  }
  return { port: bound, close: () => closeAll(servers) };
}

async function closeAll(servers: readonly Server[]): Promise<void> {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  })));
}
