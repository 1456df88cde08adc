// Counts as the API's ?limit= and the CLI's --max, --access-log-keep and --position read them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCount } from '../../src/lib/count.ts';

test('a count is decimal digits within the range; anything else is refused', () => {
  const rows: Array<[string, number, number | undefined, number | undefined]> = [
    // text, min, max, want
    ['1', 1, 10, 1],
    ['10', 1, 10, 10],
    ['007', 1, 10, 7],
    ['0', 1, 10, undefined],
    ['11', 1, 10, undefined],
    ['0', 0, undefined, 0],
    ['', 1, 10, undefined],
    ['-1', 0, 10, undefined],
    ['+1', 1, 10, undefined],
    ['1e1', 1, 100, undefined],
    ['0x10', 1, 100, undefined],
    ['2.0', 1, 10, undefined],
    [' 2', 1, 10, undefined],
    ['2 ', 1, 10, undefined],
    ['9007199254740991', 1, undefined, 9007199254740991],
    ['9007199254740993', 1, undefined, undefined],
  ];
  for (const [text, min, max, want] of rows) assert.equal(parseCount(text, max === undefined ? { min } : { min, max }), want, JSON.stringify({ text, min, max }));
});
