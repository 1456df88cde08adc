import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexOfVip, isMeshVip, MAX_VIP_INDEX, vipFromIndex } from '../../../src/dns/vip.ts';

test('virtual IPs are 240.0.0.0/4 and nothing else', () => {
  const table: Array<[string, boolean]> = [
    ['240.0.0.1', true],
    ['240.0.0.0', true],
    ['255.255.255.254', true],
    ['247.10.3.9', true],
    ['239.255.255.255', false],
    ['10.0.0.1', false],
    ['240.0.0', false],
    ['240.0.0.256', false],
    ['240.0.0.01', false],
    ['::1', false],
    ['', false],
  ];
  for (const [ip, want] of table) assert.equal(isMeshVip(ip), want, ip);
});

test('indexes map to addresses skipping the .0 and .255 host parts', () => {
  const table: Array<[number, string]> = [
    [1, '240.0.0.1'],
    [2, '240.0.0.2'],
    [254, '240.0.0.254'],
    [255, '240.0.1.1'],
    [508, '240.0.1.254'],
    [509, '240.0.2.1'],
    [254 * 256 + 1, '240.1.0.1'],
    [MAX_VIP_INDEX, '255.255.255.254'],
  ];
  for (const [index, ip] of table) {
    assert.equal(vipFromIndex(index), ip, String(index));
    assert.equal(indexOfVip(ip), index, ip);
  }
});

test('an index outside the range throws', () => {
  for (const index of [0, -1, 1.5, MAX_VIP_INDEX + 1, Number.NaN]) {
    assert.throws(() => vipFromIndex(index), RangeError, String(index));
  }
});

test('addresses vipFromIndex never returns have no index', () => {
  for (const ip of ['240.0.0.0', '240.0.0.255', '255.255.255.255', '10.0.0.1', 'web']) assert.equal(indexOfVip(ip), undefined, ip);
});

test('every index round-trips across block boundaries', () => {
  for (let index = 1; index < 5000; index++) assert.equal(indexOfVip(vipFromIndex(index)), index);
});
