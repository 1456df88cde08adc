// A service leaf: expired, not yet valid, near its end, or not of the current
// roots. Chains are checked by signature, with the CA's real builders.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainsTo, evaluateLeaf, type LeafFacts } from '../../../src/cli/check/leaf.ts';
import { crossSign } from '../../../src/lib/pki/x509.ts';
import { makeTestCa } from '../../helpers/pki.ts';

const HOUR = 3_600_000;
const born = Date.parse('2026-05-01T00:00:00Z');
const leaf = (over: Partial<LeafFacts> = {}): LeafFacts => ({ service: 'web', notBefore: new Date(born).toISOString(), notAfter: new Date(born + 24 * HOUR).toISOString(), chainsToRoots: true, ...over });

test('a leaf passes with more than 10% of its life left, warns under it, fails outside its dates', () => {
  const cases: Array<[string, LeafFacts, number, 'pass' | 'warn' | 'fail', RegExp]> = [
    ['fresh', leaf(), born + HOUR, 'pass', /expires in 23\.0 h, 96% of its 24\.0 h life left; chains to the current roots/],
    ['at 89% of its life', leaf(), born + 21.4 * HOUR, 'pass', /11% of its/],
    ['at 91% of its life: renewal overdue', leaf(), born + 21.9 * HOUR, 'warn', /its renewal is overdue/],
    ['expired', leaf(), born + 25 * HOUR, 'fail', /expired 60 min ago/],
    ['expired to the millisecond', leaf(), born + 24 * HOUR, 'fail', /expired/],
    ['not valid yet (this clock is behind)', leaf(), born - 5 * 60_000, 'fail', /not valid for another 5 min/],
    ['not issued', leaf({ notBefore: '', notAfter: '' }), born, 'fail', /no certificate for web yet/],
    ['from an old root', leaf({ chainsToRoots: false }), born + HOUR, 'fail', /does not chain to the server's current CA roots/],
    ['roots unknown', leaf({ chainsToRoots: undefined }), born + HOUR, 'pass', /roots not compared/],
  ];
  for (const [what, facts, now, status, detail] of cases) {
    const verdict = evaluateLeaf(facts, now);
    assert.equal(verdict.status, status, what);
    assert.match(verdict.detail, detail, what);
    assert.equal(verdict.hint === null, status === 'pass', `${what}: a hint exactly when something is wrong`);
  }
  assert.match(evaluateLeaf(leaf(), born - 60_000).hint!, /clock/);
});

test('a leaf chains to its own root, not to another CA with the same name, and through a cross-signed root after a rotation', () => {
  const ca = makeTestCa('chain.mesh');
  const impostor = makeTestCa('chain.mesh');
  const next = makeTestCa('chain.mesh');
  const web = ca.leaf('web').certPem;
  const nextWeb = next.leaf('web').certPem;
  const cross = crossSign({ rootCertPem: next.certPem, issuerCertPem: ca.certPem, issuerKeyPem: ca.keys.privateKeyPem, notAfter: new Date(Date.now() + 24 * HOUR) });
  const root = (pem: string, intermediates: string[] = []) => ({ rootPem: pem, intermediatesPem: intermediates });
  const cases: Array<[string, boolean]> = [
    ['its own root', chainsTo(web, [], [root(ca.certPem)])],
    ['one of several roots', chainsTo(web, [], [root(next.certPem), root(ca.certPem)])],
    ['an impostor with the same subject', !chainsTo(web, [], [root(impostor.certPem)])],
    ['a new-root leaf via its chain to the old root', chainsTo(nextWeb, [cross], [root(ca.certPem)])],
    ['a new-root leaf via the roots\' published intermediates', chainsTo(nextWeb, [], [root(ca.certPem, [cross])])],
    ['a new-root leaf without the cross-signature', !chainsTo(nextWeb, [], [root(ca.certPem)])],
    ['garbage', !chainsTo('not a certificate', [], [root(ca.certPem)])],
    ['no roots', !chainsTo(web, [], [])],
  ];
  for (const [what, ok] of cases) assert.ok(ok, what);
});
