import test from 'node:test';
import assert from 'node:assert/strict';
import { ReplayWindow } from './replay.js';

test('each counter is accepted once, in any order within the window', () => {
  const w = new ReplayWindow(64);
  for (const c of [0, 1, 5, 3, 2, 4]) assert.equal(w.accept(c), true, `first ${c}`);
  for (const c of [0, 1, 2, 3, 4, 5]) assert.equal(w.accept(c), false, `again ${c}`);
  assert.equal(w.accept(70n), true); // BigInt counters, as parsed from headers
  assert.equal(w.accept(70n), false);
  assert.equal(w.accept(7), true, 'still inside the window (70 - 7 < 64)');
  assert.equal(w.accept(6), false, 'fell out of the window: too old to tell');
});

test('a jump clears what the window slid over', () => {
  const w = new ReplayWindow(64);
  for (let c = 0; c < 64; c++) w.accept(c);
  // 100 maps onto the same bits as 36; 36 was seen, 100 is new.
  assert.equal(w.accept(100), true);
  for (let c = 65; c < 100; c++) assert.equal(w.accept(c), true, `new ${c}`);
  assert.equal(w.accept(1000), true, 'a jump beyond the window');
  assert.equal(w.accept(999), true);
  assert.equal(w.accept(999), false);
});

test('nonsense counters are refused', () => {
  const w = new ReplayWindow(64);
  assert.equal(w.accept(-1), false);
  assert.equal(w.accept(1.5), false);
  assert.equal(w.accept(2n ** 60n), false);
  assert.equal(w.accept(0), true);
});
