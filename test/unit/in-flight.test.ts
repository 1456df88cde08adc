// An inbound connection's HTTP/1.1 exchanges in flight, as the re-judging on
// an intention change reads them: the exchange it is answering, or, when its
// caller pipelines, those exchanges in order. (Plain objects stand in for the
// socket and the responses: only their identity is used.)

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { beginExchange, endExchange, exchangesOn } from '../../src/proxy/http/in-flight.ts';

const socket = () => ({}) as Socket;
const response = (name: string) => ({ name }) as unknown as ServerResponse;
const head = (url: string) => ({ url, method: 'GET', headers: new Map<string, readonly string[]>() });
const seen = (s: Socket) => exchangesOn(s).map(({ res, head: h }) => `${(res as unknown as { name: string }).name} ${h.url}`);

test('a connection shows the exchange it is answering until it ends; the next request takes the slot', () => {
  const [a, b] = [socket(), socket()];
  const [r1, r2, r3] = ['r1', 'r2', 'r3'].map(response) as [ServerResponse, ServerResponse, ServerResponse];
  assert.deepEqual(seen(a), []);
  beginExchange(a, r1, head('/events'));
  beginExchange(b, r2, head('/jobs'));
  assert.deepEqual([seen(a), seen(b)], [['r1 /events'], ['r2 /jobs']]);
  endExchange(a, r1);
  assert.deepEqual([seen(a), seen(b)], [[], ['r2 /jobs']]);
  beginExchange(a, r3, head('/next'));
  assert.deepEqual(seen(a), ['r3 /next']);
});

test('a pipelining caller has all its exchanges seen, in order, and each leaves on its own', () => {
  const a = socket();
  const rs = ['p1', 'p2', 'p3'].map(response);
  rs.forEach((r, i) => beginExchange(a, r, head(`/${i + 1}`)));
  assert.deepEqual(seen(a), ['p1 /1', 'p2 /2', 'p3 /3']);
  endExchange(a, rs[1]!);
  assert.deepEqual(seen(a), ['p1 /1', 'p3 /3']);
  endExchange(a, rs[0]!);
  endExchange(a, rs[2]!);
  assert.deepEqual(seen(a), []);
  endExchange(a, rs[2]!);
  assert.deepEqual(seen(a), [], 'ending twice is harmless');
});

test('the list is a copy: ending the exchanges while reading it ends each one once', () => {
  const a = socket();
  const rs = ['p1', 'p2'].map(response);
  rs.forEach((r) => beginExchange(a, r, head('/x')));
  const visited: string[] = [];
  for (const { res } of exchangesOn(a)) {
    visited.push((res as unknown as { name: string }).name);
    endExchange(a, res);
  }
  assert.deepEqual(visited, ['p1', 'p2']);
  assert.deepEqual(seen(a), []);
});
