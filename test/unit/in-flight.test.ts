// The inbound stage's HTTP/1.1 exchanges in flight, as the re-judging on an
// intention change reads them: connections grouped by caller and service,
// each with the exchange it is answering, or, when its caller pipelines,
// those exchanges in order. (Plain emitters stand in for sockets and
// responses: only their identity and 'close' are used.)

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { beginExchange, endExchange, InFlightExchanges } from '../../src/proxy/http/in-flight.ts';

const socket = () => new EventEmitter() as unknown as Socket;
const response = (name: string) => ({ name }) as unknown as ServerResponse;
const head = (url: string) => ({ url, method: 'GET', headers: new Map<string, readonly string[]>() });

function seen(exchanges: InFlightExchanges): string[] {
  const out: string[] = [];
  exchanges.forEach((source, service, res, h) => out.push(`${source}→${service} ${(res as unknown as { name: string }).name} ${h.url}`));
  return out.sort();
}

test('each connection shows the exchange it is answering, under its caller and service, until it ends', () => {
  const exchanges = new InFlightExchanges();
  const [a, b] = [socket(), socket()];
  exchanges.track(a, 'web', 'api');
  exchanges.track(b, 'batch', 'api');
  const [r1, r2] = [response('r1'), response('r2')];
  beginExchange(a, r1, head('/events'));
  beginExchange(b, r2, head('/jobs'));
  assert.deepEqual(seen(exchanges), ['batch→api r2 /jobs', 'web→api r1 /events']);
  endExchange(a, r1);
  assert.deepEqual(seen(exchanges), ['batch→api r2 /jobs']);
  assert.equal(exchanges.size, 1);
  // The next request on the keep-alive connection takes the slot.
  const r3 = response('r3');
  beginExchange(a, r3, head('/next'));
  assert.deepEqual(seen(exchanges), ['batch→api r2 /jobs', 'web→api r3 /next']);
});

test('a pipelining caller has all its exchanges seen, in order, and each leaves on its own', () => {
  const exchanges = new InFlightExchanges();
  const a = socket();
  exchanges.track(a, 'web', 'api');
  const rs = ['p1', 'p2', 'p3'].map(response);
  rs.forEach((r, i) => beginExchange(a, r, head(`/${i + 1}`)));
  assert.deepEqual(seen(exchanges), ['web→api p1 /1', 'web→api p2 /2', 'web→api p3 /3']);
  endExchange(a, rs[1]!);
  assert.deepEqual(seen(exchanges), ['web→api p1 /1', 'web→api p3 /3']);
  endExchange(a, rs[0]!);
  endExchange(a, rs[2]!);
  assert.equal(exchanges.size, 0);
  endExchange(a, rs[2]!);
  assert.equal(exchanges.size, 0, 'ending twice is harmless');
});

test('a visit may end the exchange it is shown; a closed connection leaves its group', () => {
  const exchanges = new InFlightExchanges();
  const a = socket();
  exchanges.track(a, 'web', 'api');
  const rs = ['p1', 'p2'].map(response);
  rs.forEach((r) => beginExchange(a, r, head('/x')));
  const visited: string[] = [];
  exchanges.forEach((_s, _d, res) => {
    visited.push((res as unknown as { name: string }).name);
    endExchange(a, res);
  });
  assert.deepEqual(visited, ['p1', 'p2']);
  assert.equal(exchanges.size, 0);
  beginExchange(a, response('late'), head('/y'));
  (a as unknown as EventEmitter).emit('close');
  assert.deepEqual(seen(exchanges), [], 'a closed connection is no longer visited');
});
