import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPoller } from '../../../src/dashboard/poller.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('reads at once, then every interval from the start of the previous read', async () => {
  const clock = new FakeClock(0);
  const reads: number[] = [];
  const poller = startPoller(clock, 1000, async () => void reads.push(clock.now()));
  clock.advance(0);
  await settle();
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    await settle();
  }
  assert.deepEqual(reads, [0, 1000, 2000, 3000]);
  poller.stop();
  clock.advance(5000);
  await settle();
  assert.equal(reads.length, 4, 'no read after stop');
  assert.equal(clock.pending(), 0);
});

test('a slow read is never overlapped, and a failed one does not stop the polling', async () => {
  const clock = new FakeClock(0);
  let release: () => void = () => {};
  let calls = 0;
  const poller = startPoller(clock, 1000, () => {
    calls++;
    if (calls === 1) return new Promise<void>((resolve) => (release = resolve));
    return Promise.reject(new Error('refused'));
  });
  clock.advance(0);
  await settle();
  clock.advance(5000);
  poller.now();
  await settle();
  assert.equal(calls, 1, 'the first read is still in flight');
  release();
  await settle();
  clock.advance(0);
  await settle();
  assert.equal(calls, 2, 'the read asked for meanwhile runs once the first is done');
  clock.advance(1000);
  await settle();
  assert.equal(calls, 3, 'a failed read is followed by the next');
  poller.stop();
});

test('now() reads at once and restarts the interval from there', async () => {
  const clock = new FakeClock(0);
  const reads: number[] = [];
  const poller = startPoller(clock, 1000, async () => void reads.push(clock.now()));
  clock.advance(0);
  await settle();
  clock.advance(400);
  poller.now();
  await settle();
  clock.advance(999);
  await settle();
  assert.deepEqual(reads, [0, 400]);
  clock.advance(1);
  await settle();
  assert.deepEqual(reads, [0, 400, 1400]);
  poller.stop();
});
