// The hint header round-trips any hint, and a plain ASCII hint reads as it is.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeHint, encodeHint } from '../../src/lib/http/error-hint.ts';

test('a hint goes into a header value and comes back the same', () => {
  const cases: Array<[string, string]> = [
    ['end one of its meshctl tap streams, or tap with another token', 'end one of its meshctl tap streams, or tap with another token'],
    ["ss -ltnup 'sport = :15090' names it; 100% sure", "ss -ltnup 'sport = :15090' names it; 100%25 sure"],
    ['wait… then retry\nagain', 'wait%E2%80%A6 then retry%0Aagain'],
  ];
  for (const [hint, header] of cases) {
    assert.equal(encodeHint(hint), header, hint);
    assert.match(encodeHint(hint), /^[\x20-\x7e]*$/, 'a valid header value');
    assert.equal(decodeHint(header), hint);
  }
  assert.equal(decodeHint('50% off'), '50% off', 'a header not written by encodeHint is shown as it is');
});
