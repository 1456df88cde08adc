import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BINDINGS, initialState, KEY_NAMES, onKey, reconcileSelection, type UiState } from '../../../src/dashboard/keys.ts';

const SERVICES = ['api', 'frontend', 'idle'];
const start: UiState = { ...initialState('10s'), selected: 'api' };

test('keys move the selection within the rows, switch window, view and errors scope', () => {
  const table: Array<[UiState, string, Partial<UiState>, string]> = [
    [start, 'down', { selected: 'frontend' }, 'none'],
    [start, 'j', { selected: 'frontend' }, 'none'],
    [start, 'up', { selected: 'api' }, 'none'],
    [{ ...start, selected: 'idle' }, 'j', { selected: 'idle' }, 'none'],
    [{ ...start, selected: 'idle' }, 'k', { selected: 'frontend' }, 'none'],
    [start, 'w', { window: '1m' }, 'refresh'],
    [{ ...start, window: '10m' }, 'w', { window: '10s' }, 'refresh'],
    [start, 't', { view: 'topology' }, 'none'],
    [{ ...start, view: 'topology' }, 't', { view: 'detail' }, 'none'],
    [start, 'e', { errorsScope: 'all' }, 'refresh'],
    [start, 'r', {}, 'refresh'],
    [start, '?', { help: true }, 'none'],
    [{ ...start, help: true }, 'escape', { help: false }, 'none'],
    [{ ...start, help: true }, 'j', { help: false, selected: 'api' }, 'none'],
    [start, 'q', {}, 'quit'],
    [start, 'C-c', {}, 'quit'],
    [{ ...start, help: true }, 'q', {}, 'quit'],
    [start, 'x', {}, 'none'],
  ];
  for (const [state, key, change, effect] of table) {
    const result = onKey(state, key, SERVICES);
    assert.deepEqual(result.state, { ...state, ...change }, `${key} from ${JSON.stringify(state)}`);
    assert.equal(result.effect, effect, key);
  }
});

test('the selection stays on its service while it exists, else goes to the first', () => {
  assert.equal(reconcileSelection(start, ['idle', 'api']).selected, 'api');
  assert.equal(reconcileSelection(start, ['idle', 'web']).selected, 'idle');
  assert.equal(reconcileSelection(initialState('10s'), []).selected, undefined);
  assert.equal(onKey(initialState('10s'), 'j', SERVICES).state.selected, 'api');
});

test('every key the help lists is forwarded and does something', () => {
  for (const binding of BINDINGS) {
    for (const key of binding.keys) {
      assert.ok(KEY_NAMES.includes(key), key);
      const middle = { ...start, selected: 'frontend' };
      const result = onKey(middle, key, SERVICES);
      assert.ok(result.effect !== 'none' || JSON.stringify(result.state) !== JSON.stringify(middle), `${key} does nothing`);
    }
  }
});
