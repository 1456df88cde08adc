import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeGeometry, type Geometry, type Rect } from '../../../src/dashboard/geometry.ts';

const rects = (g: Geometry): Rect[] => [g.header, g.table, g.lower, g.errors, g.status].filter((r): r is Rect => r !== undefined);
const overlap = (a: Rect, b: Rect) => a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;

function assertSane(g: Geometry, cols: number, rows: number, label: string): void {
  const all = rects(g);
  for (const r of all) {
    assert.ok(r.height >= 1 && r.top + r.height <= rows && r.left + r.width <= cols, `${label}: ${JSON.stringify(r)} inside ${cols}x${rows}`);
  }
  for (const [i, a] of all.entries()) for (const b of all.slice(i + 1)) assert.ok(!overlap(a, b), `${label}: ${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`);
}

test('no pane overlaps another or leaves the terminal, at any size', () => {
  for (const [cols, rows] of [[80, 24], [120, 40], [200, 60], [60, 15], [40, 10], [80, 8], [80, 5], [20, 4]] as const) {
    for (const services of [0, 1, 4, 30]) {
      for (const status of [1, 3]) assertSane(computeGeometry(cols, rows, services, status), cols, rows, `${cols}x${rows} ${services} services, status ${status}`);
    }
  }
});

test('at 80x24 the table, the detail pane and the errors pane are stacked', () => {
  const g = computeGeometry(80, 24, 4);
  assert.deepEqual(g.table, { top: 1, left: 0, width: 80, height: 5 });
  assert.deepEqual(g.lower, { top: 6, left: 0, width: 80, height: 10 });
  assert.deepEqual(g.errors, { top: 16, left: 0, width: 80, height: 7 });
  assert.deepEqual(g.status, { top: 23, left: 0, width: 80, height: 1 });
});

test('many services: the table takes at most 40% and scrolls', () => {
  const g = computeGeometry(80, 24, 30);
  assert.equal(g.table.height, 8);
  assert.ok(g.lower && g.errors);
});

test('wide terminals put the detail and errors panes side by side', () => {
  const g = computeGeometry(150, 40, 4);
  assert.equal(g.lower?.top, g.errors?.top);
  assert.equal(g.lower?.width, 82);
  assert.equal(g.errors?.left, 83, 'one column for the rule between them');
});

test('short terminals drop the errors pane first, then the detail pane', () => {
  const short = computeGeometry(80, 12, 4);
  assert.ok(short.lower && !short.errors);
  const tiny = computeGeometry(80, 6, 4);
  assert.ok(!tiny.lower && !tiny.errors);
  assert.equal(tiny.table.height, 3);
});

test('a problem takes up to three status lines, from the bottom', () => {
  const g = computeGeometry(80, 24, 4, 3);
  assert.deepEqual(g.status, { top: 21, left: 0, width: 80, height: 3 });
});
