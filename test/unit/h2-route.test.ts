// What a route changes on an HTTP/2 stream's forwarded headers, and how the
// statuses the mesh answers with read to a gRPC client.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grpcStatusOfHttp, routedHeaders } from '../../src/proxy/h2/stages.ts';
import { editHeaders } from '../../src/proxy/http/route.ts';

test('routedHeaders: the rewritten path, pseudo-headers kept, edits applied, names lowercased, repeated values combined in one field', () => {
  const edits = { set: { 'X-Version': 'v2' }, add: { 'x-tag': 'b' }, remove: ['x-secret'] };
  const incoming: Record<string, string | string[]> = { ':method': 'POST', ':path': '/old/x?q=1', ':authority': 'api', ':scheme': 'http', 'x-version': 'v1', 'x-secret': 's', 'x-tag': 'a', accept: ['a', 'b'] };
  const out = routedHeaders(incoming, { path: '/new/x?q=1', editHeaders: (raw) => editHeaders(raw, edits) });
  assert.deepEqual(out, { ':method': 'POST', ':path': '/new/x?q=1', ':authority': 'api', ':scheme': 'http', accept: 'a, b', 'x-tag': 'a, b', 'x-version': 'v2' });
});

test('routedHeaders: an added cookie joins with "; ", as HTTP/2 splits and rejoins cookies', () => {
  const out = routedHeaders({ ':path': '/', cookie: 'a=1' }, { path: '/', editHeaders: (raw) => editHeaders(raw, { set: {}, add: { cookie: 'b=2' }, remove: [] }) });
  assert.equal(out.cookie, 'a=1; b=2');
});

test('grpcStatusOfHttp follows gRPC\'s mapping; anything else is UNKNOWN', () => {
  const table: Array<[number, number]> = [[400, 13], [401, 16], [403, 7], [404, 12], [429, 14], [502, 14], [503, 14], [504, 14], [418, 2], [500, 2]];
  assert.deepEqual(table.map(([http]) => [http, grpcStatusOfHttp(http)]), table);
});
