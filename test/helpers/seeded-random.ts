// A seeded random source (mulberry32) so balancer tests are reproducible:
// the same seed gives the same picks on every run and machine. It lives in
// src/lib, where the demo app uses it too.

export { seededRandom } from '../../src/lib/seeded-random.ts';
