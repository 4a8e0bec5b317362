import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter, HandQueue } from './reactions.js';

test('the rate limiter allows a burst, then one per refill', () => {
  let now = 0;
  const rl = new RateLimiter({ burst: 3, refillMs: 1000, now: () => now });
  assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')], [true, true, true, false]);
  assert.equal(rl.take('b'), true, 'per sender');
  now = 999;
  assert.equal(rl.take('a'), false);
  now = 1000;
  assert.equal(rl.take('a'), true);
  assert.equal(rl.take('a'), false);
  now = 100000;
  assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')], [true, true, true, false]);
});

test('hands keep the order of raising', () => {
  const h = new HandQueue();
  h.set('b', true);
  h.set('a', true);
  h.set('c', true);
  h.set('a', true); // raising again keeps the place
  assert.deepEqual(h.ids(), ['b', 'a', 'c']);
  h.set('b', false);
  assert.deepEqual([h.position('a'), h.position('c'), h.position('b')], [1, 2, 0]);
  h.set('b', true);
  assert.equal(h.position('b'), 3);
});
