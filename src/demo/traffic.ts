// The demo's traffic generator: a meshed caller (service `traffic`) that
// calls frontend through its upstream port at a steady rate, so frontend's
// inbound proxy sees real mesh traffic. Its own port answers /health and
// /status (what it sent and what came back), which the demo's tests read.
//
//   node traffic.js --port 8090 --upstream-port 9000 --rate 20

import { Agent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';
import { dueRequests } from './app-logic.ts';

const { values } = parseArgs({ options: { role: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, 'upstream-port': { type: 'string' }, rate: { type: 'string', default: '20' } } });
const rate = Number(values.rate);
const upstreamPort = Number(values['upstream-port']);
if (!values.port || !upstreamPort || !(rate > 0)) {
  process.stderr.write('usage: traffic --port N --upstream-port N [--rate R]\n');
  process.exit(2);
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const status = { rate, sent: 0, answered: 0, ok: 0, failed: 0, byStatus: {} as Record<string, number>, startedAt: new Date().toISOString() };

function one(): void {
  status.sent++;
  const done = (key: string, ok: boolean) => {
    status.answered++;
    if (ok) status.ok++;
    else status.failed++;
    status.byStatus[key] = (status.byStatus[key] ?? 0) + 1;
  };
  const req = request({ host: '127.0.0.1', port: upstreamPort, path: '/', agent, timeout: 10_000 }, (res) => {
    res.resume();
    res.on('end', () => done(String(res.statusCode), (res.statusCode ?? 0) < 500));
    res.on('error', () => done('error', false));
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (error: NodeJS.ErrnoException) => done(`error ${error.code ?? error.message}`, false));
  req.end();
}

const start = performance.now();
// A 20 ms tick sends whatever is due: the rate holds whatever the timer jitter.
const tick = setInterval(() => {
  for (let n = dueRequests(performance.now() - start, rate, status.sent); n > 0; n--) one();
}, 20);

const server = createServer((req, res) => {
  const body = req.url === '/status' ? JSON.stringify(status) : JSON.stringify({ service: 'traffic', healthy: true });
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
});
server.listen(Number(values.port), values.host, () => process.stdout.write(`traffic: ${rate} req/s to 127.0.0.1:${upstreamPort}; status on ${values.host}:${values.port}/status\n`));
server.on('error', (error) => {
  process.stderr.write(`traffic: cannot listen on ${values.host}:${values.port}: ${error.message}\n`);
  process.exit(1);
});
const stop = () => {
  clearInterval(tick);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  agent.destroy();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
