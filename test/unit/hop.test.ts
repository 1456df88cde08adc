import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeHop, parseHop } from '../../src/proxy/hop.ts';

test('a preamble round-trips, with and without an instance, keeping the bytes after it', () => {
  for (const header of [{ service: 'web', protocol: 'http' as const }, { service: 'db', protocol: 'tcp' as const, instance: 'db-2' }]) {
    const parsed = parseHop(Buffer.concat([encodeHop(header), Buffer.from('GET / HTTP/1.1\r\n')]));
    assert.equal(parsed.state, 'ok');
    if (parsed.state === 'ok') {
      assert.deepEqual(parsed.header, header);
      assert.equal(parsed.rest.toString(), 'GET / HTTP/1.1\r\n');
    }
  }
});

test('a partial preamble waits; anything malformed is invalid, never guessed', () => {
  assert.equal(parseHop(Buffer.from('MESH/1 web ht')).state, 'incomplete');
  const invalid = ['MESH/2 web http\r\n', 'MESH/1 web ftp\r\n', 'MESH/1 -web http\r\n', 'MESH/1 web http extra junk\r\n', 'GET / HTTP/1.1\r\n', 'MESH/1  web http\r\n', `MESH/1 ${'a'.repeat(70)} http\r\n`];
  for (const text of invalid) assert.equal(parseHop(Buffer.from(text)).state, 'invalid', JSON.stringify(text));
  assert.equal(parseHop(Buffer.alloc(200, 'a')).state, 'invalid', 'no line within 128 bytes');
});
