import test from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, BACKOFF } from './backoff.js';

test('delays grow exponentially up to the cap', () => {
  const hi = (a) => backoffDelay(a, { random: () => 1 });
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map(hi), [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
});

test('jitter keeps at least half the nominal delay', () => {
  const lo = (a) => backoffDelay(a, { random: () => 0 });
  assert.deepEqual([0, 1, 5].map(lo), [250, 500, 7500]);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(3);
    assert.ok(d >= 2000 && d <= 4000, String(d));
  }
});

test('options override the defaults', () => {
  assert.equal(backoffDelay(2, { base: 100, factor: 3, max: 1e6, random: () => 1 }), 900);
  assert.equal(backoffDelay(-1, { random: () => 1 }), BACKOFF.base);
});
