// The agent's admin API, on 127.0.0.1:15000 by default: what `meshctl
// status`, `meshctl leave` and the dashboard read, and Consul's local TTL
// endpoints so an app can refresh its own TTL check as it would with Consul.

import { createServer, type Server } from 'node:http';
import type { HealthStatus } from '../lib/probes.ts';

export interface AdminHandlers {
  status(): unknown;
  configDump(): unknown;
  ready(): { ready: boolean; reason: string };
  updateTtl(checkId: string, status: HealthStatus, note: string): boolean;
}

export function createAdminServer(handlers: AdminHandlers): Server {
  return createServer({ insecureHTTPParser: false }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: unknown) => {
      const text = typeof body === 'string' ? `${body}\n` : JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const ttl = /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/.exec(url.pathname);
    if (req.method === 'GET' && url.pathname === '/ready') {
      const ready = handlers.ready();
      return send(ready.ready ? 200 : 503, ready.ready ? 'ready' : `not ready: ${ready.reason}`);
    }
    if (req.method === 'GET' && url.pathname === '/v1/status') return send(200, handlers.status());
    if (req.method === 'GET' && url.pathname === '/v1/config_dump') return send(200, handlers.configDump());
    if (req.method === 'PUT' && ttl) {
      const status: HealthStatus = ttl[1] === 'pass' ? 'passing' : ttl[1] === 'warn' ? 'warning' : 'critical';
      let id: string;
      try {
        id = decodeURIComponent(ttl[2] as string);
      } catch {
        return send(400, 'Invalid check ID escape');
      }
      if (!handlers.updateTtl(id, status, url.searchParams.get('note') ?? '')) {
        return send(404, `Unknown TTL check ID "${id}". Ensure that the check ID is passed, not the check name.`);
      }
      return send(200, '');
    }
    send(404, `no such admin path: ${req.method} ${url.pathname}`);
  });
}
