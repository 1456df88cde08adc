import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intentionLines, routeLines } from '../../../src/dashboard/detail-view.ts';
import { emptyHistory, withAnswer } from '../../../src/dashboard/history.ts';
import { initialState, type UiState } from '../../../src/dashboard/keys.ts';
import { tableLines } from '../../../src/dashboard/table-view.ts';
import { errorText, layoutView, statusLines, type Snapshot } from '../../../src/dashboard/view-model.ts';
import { CONFIG, STATS } from '../../fixtures/dashboard-stats.ts';

const CONTEXT = { title: 'meshctl dashboard', refreshMs: 1000, now: Date.parse('2026-11-27T05:30:01Z') };

/** The screen as the terminal shows it: every pane's lines at their place. */
function screenOf(snapshot: Snapshot, cols: number, rows: number, ui: UiState = { ...initialState('10s'), selected: 'api' }): string[] {
  let history = emptyHistory();
  for (let i = 0; i < 5; i++) history = withAnswer(history, { ...STATS, services: STATS.services.map((s) => ({ ...s, rps: s.rps + i })) });
  const { geometry, view } = layoutView(snapshot, history, ui, cols, rows, CONTEXT);
  const screen = Array.from({ length: rows }, () => ' '.repeat(cols));
  const put = (rect: { top: number; left: number } | undefined, lines: readonly { text: string }[]) => {
    if (!rect) return;
    lines.forEach((line, i) => {
      const row = [...(screen[rect.top + i] ?? '')];
      row.splice(rect.left, [...line.text].length, ...line.text);
      screen[rect.top + i] = row.join('');
    });
  };
  put(geometry.header, [{ text: view.header }]);
  put(geometry.table, view.table);
  put(geometry.lower, view.lower);
  put(geometry.errors, view.errors);
  put(geometry.status, view.status);
  return screen.map((l) => l.trimEnd());
}

const ERRORS = [{ time: '2026-11-27T05:29:58.000Z', node: 'host-1', source: 'frontend', destination: 'api', status: 503, cause: 'no_healthy_endpoints', hop: 'outbound', method: 'GET', path: '/x' }];

test('the whole screen at 80x24 (golden)', () => {
  const screen = screenOf({ stats: STATS, errors: ERRORS, config: CONFIG, updatedAt: CONTEXT.now }, 80, 24);
  assert.deepEqual(screen, [
    'meshctl dashboard · window 10s · refresh 1s · 4 services',
    '  SERVICE                   HEALTHY      RPS  SUCCESS      P50      P95      P99',
    '> api                           2/2     20.0   99.00%    1.2ms    3.4ms    7.9ms',
    '  frontend                      1/2     3.50   90.00%    2.0ms    8.0ms   41.5ms',
    '  inventory-reconciliatio…      3/3     1.2k   99.99%   0.40ms   0.90ms    120ms',
    '  idle                          0/1        0        -        -        -        -',
    'api · 2/2 healthy · 20.0 rps · 99.00% ok · p99 7.9ms (10s)',
    'RPS                                                              ▇▇▇██    20.0/s',
    'SUCCESS                                                          █████    99.00%',
    'P99                                                              █████     7.9ms',
    'routes:',
    '  canary: header x-canary=1 → api:v2',
    '  (of frontend) to-api: path-prefix /api → api',
    'intentions:',
    '  allow frontend → api',
    '… 3 more lines (a taller terminal shows them)',
    'recent errors · api (e: every service)',
    '05:29:58 frontend→api 503 no_healthy_endpoints · GET /x · outbound host-1',
    '',
    '',
    '',
    '',
    '',
    'updated 05:30:01Z  ? help  q quit  ↑↓ jk select  w window  t topology  e errors',
  ]);
});

test('the table keeps SERVICE, RPS, SUCCESS and P99 readable when narrow', () => {
  const lines = tableLines(STATS.services, 'frontend', 40, 10).map((l) => l.text);
  assert.deepEqual(lines, [
    '  SERVICE          RPS  SUCCESS      P99',
    '  api             20.0   99.00%    7.9ms',
    '> frontend        3.50   90.00%   41.5ms',
    '  inventory-…     1.2k   99.99%    120ms',
    '  idle               0        -        -',
  ]);
  for (const width of [30, 50, 80, 120, 200]) assert.ok(tableLines(STATS.services, 'api', width, 10).every((l) => [...l.text].length === width), `every line exactly ${width}`);
});

test('the table scrolls to keep the selection in view', () => {
  const rows = tableLines(STATS.services, 'idle', 80, 3).map((l) => l.text.trim().split(/\s+/)[0]);
  assert.deepEqual(rows, ['SERVICE', 'inventory-reconciliatio…', '>']);
  assert.ok(tableLines(STATS.services, 'idle', 80, 3)[2]!.selected);
});

test('the routes and intentions that concern a service', () => {
  assert.deepEqual(routeLines(CONFIG, 'api'), ['canary: header x-canary=1 → api:v2', '(of frontend) to-api: path-prefix /api → api']);
  assert.deepEqual(routeLines(CONFIG, 'idle'), ['(of frontend) other: path-prefix /x → idle']);
  assert.deepEqual(routeLines(CONFIG, 'nobody'), []);
  assert.deepEqual(intentionLines(CONFIG, 'api'), ['allow frontend → api', 'deny web → api (path-prefix /admin)', 'allow web → api (all other requests)', 'deny * → *']);
  assert.deepEqual(intentionLines(CONFIG, 'frontend'), ['allow frontend → api', 'deny frontend → idle', 'deny * → *']);
});

test('the topology view lists every edge, the selected service\'s first', () => {
  const screen = screenOf({ stats: STATS, errors: [], config: CONFIG, updatedAt: CONTEXT.now }, 80, 24, { ...initialState('10s'), selected: 'frontend', view: 'topology' });
  assert.deepEqual(screen.slice(6, 10), [
    'topology: who calls whom (t: back to the detail pane)',
    '  SOURCE → DESTINATION                                     RPS  SUCCESS      P99',
    '> frontend → api                                          20.0   99.00%    9.0ms',
    '> (outside the mesh) → frontend                           3.50   90.00%        -',
  ]);
  assert.equal(screen[17], 'none recorded');
});

test('an error reads cause first, then what and where', () => {
  assert.equal(errorText({ ...ERRORS[0]!, detail: 'all 2 instances failing checks', endpoint: 'api-1' }), '05:29:58 frontend→api 503 no_healthy_endpoints · all 2 instances failing checks · GET /x · outbound host-1 api-1');
  assert.equal(errorText({ time: 'garbage', source: '', destination: 'api', status: 500, cause: 'upstream_5xx' }), '--:--:-- (outside)→api 500 upstream_5xx');
});

test('a problem shows what is wrong and the fix over up to three lines, keeping the last data', () => {
  const problem = { message: 'cannot reach the meshctl server at http://127.0.0.1:8500: ECONNREFUSED', fix: 'check that `meshctl server` runs there, or pass --server ADDR (or set MESHCTL_SERVER)' };
  const lines = statusLines({ problem, updatedAt: CONTEXT.now - 12_000 }, CONTEXT, 80).map((l) => l.text.trimEnd());
  assert.deepEqual(lines, [
    'cannot reach the meshctl server at http://127.0.0.1:8500: ECONNREFUSED — fix:',
    'check that `meshctl server` runs there, or pass --server ADDR (or set',
    'MESHCTL_SERVER) (retrying every 1s; data 12s old; q quits)',
  ]);
  const screen = screenOf({ stats: STATS, problem, updatedAt: CONTEXT.now - 12_000 }, 80, 24);
  assert.equal(screen[21], lines[0]);
  assert.match(screen[2] ?? '', /^> api\s+2\/2\s+20\.0/, 'the last good data stays');
});

test('before the first answer: the table claims nothing, the status says connecting', () => {
  const screen = screenOf({}, 80, 24, initialState('1m'));
  assert.equal(screen[0], 'meshctl dashboard · window 1m · refresh 1s');
  assert.equal(screen[2], '  —');
  assert.equal(screen[23], 'connecting…  ? help  q quit');
});

test('a first read that failed (a refused token): the table does not say the catalog is empty, the status says why', () => {
  const problem = { message: 'the server refused the token: ACL not found', fix: 'pass a token with the needed policy (--token or MESHCTL_TOKEN)' };
  const screen = screenOf({ problem }, 80, 24, initialState('1m'));
  assert.equal(screen[2], '  —');
  assert.ok(!screen.some((l) => l.includes('no services in the catalog')), screen.join('\n'));
  assert.match(screen.slice(20).join('\n'), /the server refused the token: ACL not found — fix: pass a token/);
});

test('a read that answered no services: the table says the catalog is empty', () => {
  const screen = screenOf({ stats: { ...STATS, services: [], edges: [] }, updatedAt: CONTEXT.now }, 80, 24, initialState('1m'));
  assert.equal(screen[2], '  no services in the catalog yet');
});
