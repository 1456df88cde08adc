import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RingHash, hash32 } from '../../../src/proxy/balance/ring-hash.ts';
import type { Endpoint } from '../../../src/proxy/balance/types.ts';
import { endpoint, endpoints } from './helpers.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';

function ring(list: Endpoint[], seed = 1): RingHash {
  const b = new RingHash(seededRandom(seed));
  b.update(list);
  return b;
}

const keys = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);
const owners = (b: RingHash, exclude?: ReadonlySet<string>) => keys.map((k) => b.pick({ hashKey: k }, exclude)?.id);

test('ring_hash: the hash is pinned, since every proxy must place a key the same way', () => {
  // FNV-1a 32 + fmix32, checked against an independent implementation.
  // Changing these values remaps every session when proxies are upgraded.
  const table: Array<[string, number]> = [
    ['', 0xab3e7c0b],
    ['a', 0x1a80b1b3],
    ['10.0.0.1', 0xaebc85ae],
    ['user-42', 0x7c2a1196],
    ['node-1/web-1#0', 0x21dbbc91],
    ['ü→中', 0x1ec59f81],
  ];
  for (const [text, want] of table) assert.equal(hash32(text), want, JSON.stringify(text));
});

test('ring_hash maps the same key to the same endpoint, on any proxy, in any order', () => {
  const list = endpoints('n1/web', 'n2/web', 'n3/web', 'n4/web');
  const here = ring(list);
  const elsewhere = ring([...list].reverse(), 999);
  const first = owners(here);
  assert.deepEqual(owners(here), first, 'again on the same balancer');
  assert.deepEqual(owners(elsewhere), first, 'on another proxy that lists the endpoints in another order');
  here.update(list);
  assert.deepEqual(owners(here), first, 'after an update with the same set');
});

test('ring_hash spreads keys by weight', () => {
  const b = ring([endpoint('a', 1), endpoint('b', 2), endpoint('c', 3), endpoint('d', 4), endpoint('zero', 0)]);
  const counts = new Map<string, number>();
  for (const id of owners(b)) counts.set(id ?? '-', (counts.get(id ?? '-') ?? 0) + 1);
  const want: Record<string, number> = { a: 1 / 11, b: 2 / 11, c: 3 / 11, d: 4 / 11, zero: 1 / 11 };
  for (const [id, share] of Object.entries(want)) {
    const got = (counts.get(id) ?? 0) / keys.length;
    assert.ok(Math.abs(got / share - 1) < 0.2, `${id}: ${got.toFixed(3)}, want ~${share.toFixed(3)}`);
  }
});

test('ring_hash: removing 1 of 5 endpoints moves only the keys it had (~20%)', () => {
  const five = endpoints('n1/web', 'n2/web', 'n3/web', 'n4/web', 'n5/web');
  const before = owners(ring(five));
  const after = owners(ring(five.filter((e) => e.id !== 'n3/web')));
  let moved = 0;
  before.forEach((id, i) => {
    if (id === after[i]) return;
    moved += 1;
    assert.equal(id, 'n3/web', `key ${keys[i]} moved from ${id}, which stayed`);
  });
  assert.ok(moved / keys.length < 0.3 && moved / keys.length > 0.1, `moved ${moved / keys.length}`);
});

test('ring_hash: adding an endpoint moves keys only onto it (~1/N)', () => {
  const four = endpoints('n1/web', 'n2/web', 'n3/web', 'n4/web');
  const before = owners(ring(four));
  const after = owners(ring([...four, endpoint('n5/web')]));
  let moved = 0;
  before.forEach((id, i) => {
    if (id === after[i]) return;
    moved += 1;
    assert.equal(after[i], 'n5/web');
  });
  assert.ok(moved / keys.length < 0.3, `moved ${moved / keys.length}`);
});

test('ring_hash: an excluded endpoint\'s keys go on clockwise, as if it had left; others stay', () => {
  const list = endpoints('n1/web', 'n2/web', 'n3/web', 'n4/web', 'n5/web');
  const b = ring(list);
  const home = owners(b);
  const skipping = owners(b, new Set(['n2/web']));
  const without = owners(ring(list.filter((e) => e.id !== 'n2/web')));
  assert.deepEqual(skipping, without);
  home.forEach((id, i) => {
    if (id !== 'n2/web') assert.equal(skipping[i], id);
  });
  // Several excluded (a retry after two tries): still the next one along that is not excluded.
  const two = new Set(['n2/web', 'n4/web']);
  assert.deepEqual(owners(b, two), owners(ring(list.filter((e) => !two.has(e.id)))));
});

test('ring_hash: changing one weight moves keys only to or from that endpoint', () => {
  const list = endpoints('n1/web', 'n2/web', 'n3/web');
  const before = owners(ring(list));
  const after = owners(ring(list.map((e) => (e.id === 'n2/web' ? endpoint('n2/web', 3) : e))));
  before.forEach((id, i) => {
    if (id !== after[i]) assert.equal(after[i], 'n2/web');
  });
});

test('ring_hash without a hash key picks at random, by weight', () => {
  const b = ring([endpoint('a', 1), endpoint('b', 3)], 11);
  let a = 0;
  for (let i = 0; i < 20_000; i++) if (b.pick({})?.id === 'a') a += 1;
  assert.ok(Math.abs(a / 20_000 - 0.25) < 0.05, `a: ${a / 20_000}`);
});
