// One contract, every policy: what the proxy relies on whichever balancer a
// service's defaults choose.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BALANCER_POLICIES } from '../../../src/proxy/balance/types.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { balancer, endpoint, endpoints, tally } from './helpers.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';

for (const policy of BALANCER_POLICIES) {
  describe(`balancer conformance: ${policy}`, () => {
    test('reports its policy', () => {
      assert.equal(balancer(policy).policy, policy);
    });

    test('never returns an excluded endpoint', () => {
      const b = balancer(policy);
      const ids = ['a', 'b', 'c', 'd', 'e'];
      b.update(endpoints(...ids));
      const rnd = seededRandom(99);
      for (let i = 0; i < 2000; i++) {
        const exclude = new Set(ids.filter(() => rnd() < 0.5));
        const e = b.pick({ hashKey: `k${i}` }, exclude);
        if (exclude.size === ids.length) assert.equal(e, undefined);
        else {
          assert.ok(e, `pick ${i} with ${exclude.size} excluded`);
          assert.ok(!exclude.has(e.id), `pick ${i} returned excluded ${e.id}`);
        }
      }
    });

    test('returns undefined when the set is empty or all are excluded', () => {
      const b = balancer(policy);
      assert.equal(b.pick({}), undefined, 'before any update');
      assert.equal(b.pick({ hashKey: 'k' }), undefined, 'before any update, with a key');
      b.update(endpoints('a', 'b'));
      assert.equal(b.pick({}, new Set(['a', 'b'])), undefined);
      assert.equal(b.pick({ hashKey: 'k' }, new Set(['a', 'b'])), undefined);
      b.update([]);
      assert.equal(b.pick({}), undefined, 'after update([])');
      assert.equal(b.pick({ hashKey: 'k' }), undefined, 'after update([]), with a key');
    });

    test('returns only endpoints of the current set after update()', () => {
      const b = balancer(policy);
      b.update(endpoints('a', 'b', 'c'));
      tally(b, 100);
      b.update(endpoints('c', 'd'));
      const seen = new Set([...tally(b, 1000).keys()]);
      assert.deepEqual([...seen].sort(), ['c', 'd']);
      for (let i = 0; i < 200; i++) assert.ok(['c', 'd'].includes(b.pick({})?.id ?? ''), 'without a key too');
    });

    test('survives update() with requests in flight, without corrupting its accounting', () => {
      const clock = new FakeClock();
      const b = balancer(policy, 7, clock);
      b.update(endpoints('a', 'b', 'c'));
      for (const id of ['a', 'a', 'a', 'b', 'c']) b.onStart(id);
      b.update(endpoints('b', 'c'));
      assert.doesNotThrow(() => b.onEnd('a', 12, true), 'end on an endpoint that left');
      b.update(endpoints('a', 'b', 'c'));
      assert.doesNotThrow(() => {
        b.onEnd('a', 12, true);
        b.onEnd('a', 12, true);
        b.onEnd('a', 12, false); // one more end than starts
        b.onEnd('never-seen', 5, true);
        b.onEnd('b', Number.NaN, true); // a broken measurement is not a sample
        b.onEnd('c', -1, true);
      });
      // With nothing in flight and equal latencies, a corrupted count or
      // estimate would show up as one endpoint taking (or losing) the lot.
      const counts = new Map<string, number>();
      for (let i = 0; i < 3000; i++) {
        const e = b.pick({ hashKey: `key-${i}` });
        assert.ok(e);
        counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
        b.onStart(e.id);
        clock.advance(1);
        b.onEnd(e.id, 5, true);
      }
      for (const id of ['a', 'b', 'c']) assert.ok((counts.get(id) ?? 0) > 3000 * 0.15, `${id} got ${counts.get(id)} of 3000`);
    });

    test('is deterministic for a given random seed', () => {
      const run = () => {
        const clock = new FakeClock();
        const b = balancer(policy, 42, clock);
        b.update(endpoints('a', 'b', 'c', 'd'));
        const picks: string[] = [];
        for (let i = 0; i < 500; i++) {
          const e = b.pick(i % 3 === 0 ? {} : { hashKey: `user-${i % 17}` }, i % 5 === 0 ? new Set(['b']) : undefined);
          picks.push(e?.id ?? '-');
          if (e) b.onStart(e.id);
          clock.advance(3);
          if (e && i % 2 === 0) b.onEnd(e.id, e.id === 'c' ? 40 : 4, i % 7 !== 0);
          if (i === 250) b.update(endpoints('a', 'c', 'd', 'e'));
        }
        return picks;
      };
      assert.deepEqual(run(), run());
    });

    test('picks every endpoint eventually, whatever its weight', () => {
      const b = balancer(policy);
      b.update([endpoint('a', 1), endpoint('b', 0), endpoint('c', 3), endpoint('d', 1), endpoint('e', 2)]);
      assert.deepEqual([...tally(b, 2000).keys()].sort(), ['a', 'b', 'c', 'd', 'e'], 'with varying keys');
      const keyless = new Set<string>();
      for (let i = 0; i < 2000; i++) keyless.add(b.pick({})?.id ?? '-');
      assert.deepEqual([...keyless].sort(), ['a', 'b', 'c', 'd', 'e'], 'without a key');
    });

    test('takes the only endpoint left', () => {
      const b = balancer(policy);
      b.update(endpoints('a', 'b', 'c'));
      for (let i = 0; i < 50; i++) assert.equal(b.pick({ hashKey: `k${i}` }, new Set(['a', 'c']))?.id, 'b');
      b.update(endpoints('z'));
      assert.equal(b.pick({})?.id, 'z');
    });
  });
}
