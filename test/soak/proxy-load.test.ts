// Soak: steady HTTP load through the proxy (test/helpers/proxy-bed.ts) for
// MESHCTL_SOAK_MINUTES (default 10), with the catalog changing under it every
// 30 s. No request may fail, and memory must level off (no leak per request).
// Run with `npm run soak`; not part of npm test.

import assert from 'node:assert/strict';
import { Agent, createServer, request, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { startProxyBed, type ProxyBed } from '../helpers/proxy-bed.ts';

const MINUTES = Number(process.env.MESHCTL_SOAK_MINUTES ?? 10);
const RATE = 500;

let apps: Array<{ server: Server; port: number }>;
let bed: ProxyBed;

before(async () => {
  apps = [];
  for (let i = 0; i < 3; i++) {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(`app-${i}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apps.push({ server, port: (server.address() as { port: number }).port });
  }
  bed = await startProxyBed('web', apps.map((a, i) => ({ id: `a${i}`, port: a.port })), { protocol: 'http' });
});
after(async () => {
  await bed?.close();
  for (const a of apps ?? []) a.server.close();
});

test(`${MINUTES} minutes at ${RATE} req/s through both proxy stages, with endpoint changes, lose nothing and leak nothing`, { timeout: (MINUTES + 2) * 60_000 }, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const end = Date.now() + MINUTES * 60_000;
  let ok = 0;
  let failed = 0;
  const rssMb: number[] = [];
  const sampler = setInterval(() => rssMb.push(process.memoryUsage().rss / 1048576), 10_000);
  let flip = 0;
  const churn = setInterval(() => {
    // Take one instance out and put it back: the table is replaced under load.
    flip += 1;
    const list = apps.map((a, i) => ({ id: `a${i}`, port: a.port })).filter((_, i) => flip % 2 === 0 || i !== flip % 3);
    void bed.set(list, { protocol: 'http' });
  }, 30_000);
  await new Promise<void>((resolve) => {
    const tick = () => {
      if (Date.now() >= end) return resolve();
      for (let i = 0; i < RATE / 20; i++) {
        const req = request({ host: '127.0.0.1', port: bed.upstreamPort, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? ok++ : failed++));
        });
        req.on('error', () => failed++);
        req.end();
      }
      setTimeout(tick, 50);
    };
    tick();
  });
  clearInterval(sampler);
  clearInterval(churn);
  agent.destroy();
  const settled = rssMb.slice(Math.floor(rssMb.length / 3));
  const growth = settled.length > 1 ? (settled.at(-1) as number) - (settled[0] as number) : 0;
  console.log(`soak: ${ok} ok, ${failed} failed, RSS ${rssMb.map((m) => m.toFixed(0)).join(' ')} MB (growth after warm-up ${growth.toFixed(1)} MB)`);
  assert.equal(failed, 0);
  assert.ok(ok > RATE * MINUTES * 60 * 0.9, `kept the rate: ${ok}`);
  assert.ok(growth < 40, `memory levels off: +${growth.toFixed(1)} MB after warm-up`);
});
