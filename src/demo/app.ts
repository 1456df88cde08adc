// The demo's sample app, one process per service instance (frontend, api,
// db): a plain node:http server on 127.0.0.1, where its host's proxy
// delivers. Callers reach their downstream through their local upstream port
// and pass the trace headers on (app-logic.ts decides; this is the socket
// work). Started by `meshctl demo`:
//
//   node app.js --role api --port 8081 --version v1 --upstream-port 9002
//   node app.js --role db --port 8082 --error-rate 0.02 --seed 8

import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { seededRandom } from '../lib/seeded-random.ts';
import { combine, decide, forwardedHeaders } from './app-logic.ts';
import type { Role } from './plan.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    version: { type: 'string' },
    'upstream-port': { type: 'string' },
    'error-rate': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
  },
});
const role = values.role as Role;
if (!['frontend', 'api', 'db'].includes(role) || !values.port) {
  process.stderr.write('usage: app --role frontend|api|db --port N [--version V] [--upstream-port N] [--error-rate R] [--seed N]\n');
  process.exit(2);
}
const version = values.version;
const upstreamPort = Number(values['upstream-port'] ?? 0);
const errorRate = Number(values['error-rate']);
const random = seededRandom(Number(values.seed));
// Keep-alive to the local upstream listener, as a real app's client pool would.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function callDownstream(path: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: upstreamPort, path, headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => resolve({ status: 0, body: null }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // the mesh's own answers (503 no_healthy_endpoints, 403 …) may be plain text
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve({ status: 0, body: null }));
    req.end();
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume();
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const decision = decide(role, path, { ...(version ? { version } : {}), errorRate, random });
  if (decision.kind === 'answer') return send(res, decision.status, decision.body);
  const answer = combine(role, version, await callDownstream(decision.path, forwardedHeaders(req.headers)));
  send(res, answer.status, answer.body);
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: Error) => send(res, 500, { service: role, error: error.message }));
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => process.stdout.write(`${role}${version ? ` ${version}` : ''} listening on ${values.host}:${values.port}\n`));
server.on('error', (error) => {
  process.stderr.write(`${role}: cannot listen on ${values.host}:${values.port}: ${error.message}\n`);
  process.exit(1);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
