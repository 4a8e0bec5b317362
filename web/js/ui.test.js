import test from 'node:test';
import assert from 'node:assert/strict';
import { bestLayout, initials, MIN_TILE_W } from './ui.js';

test('bestLayout fills a wide box with a row, a narrow one with a column', () => {
  assert.deepEqual(bestLayout(1, 1280, 700, 8).cols, 1);
  assert.equal(bestLayout(2, 1280, 700, 8).cols, 2);
  assert.equal(bestLayout(4, 1280, 700, 8).cols, 2);
  assert.equal(bestLayout(6, 1280, 700, 8).cols, 3);
  // A 360 px wide phone (minus padding), portrait: one column.
  assert.equal(bestLayout(3, 348, 600, 6).cols, 1);
  assert.equal(bestLayout(2, 348, 600, 6).cols, 1);
});

test('bestLayout tiles fit the box', () => {
  for (const [n, w, h] of [[1, 800, 450], [3, 1280, 700], [7, 1000, 500], [12, 360, 600], [5, 348, 620]]) {
    const { cols, width } = bestLayout(n, w, h, 8);
    const rows = Math.ceil(n / cols);
    assert.ok(cols * width + (cols - 1) * 8 <= w + 0.01, `n=${n}: too wide`);
    assert.ok(rows * (width * 9) / 16 + (rows - 1) * 8 <= h + 0.01, `n=${n}: too tall`);
  }
});

test('bestLayout keeps tiles usable in tiny boxes', () => {
  assert.ok(bestLayout(30, 200, 100, 8).width >= MIN_TILE_W);
});

test('bestLayout scrolls a large room rather than shrink labels away', () => {
  // 31 people on a 360 px phone: two legible columns, the grid scrolls.
  const phone = bestLayout(31, 348, 560, 6);
  assert.equal(phone.cols, 2);
  assert.ok(phone.width >= MIN_TILE_W && 2 * phone.width + 6 <= 348 + 0.01, `width ${phone.width}`);
  // 100 people on a laptop: as many columns as fit at the smallest width.
  const laptop = bestLayout(100, 1264, 540, 8);
  assert.ok(laptop.width >= MIN_TILE_W, `width ${laptop.width}`);
  assert.ok(laptop.cols * laptop.width + (laptop.cols - 1) * 8 <= 1264 + 0.01, 'too wide');
  assert.equal(laptop.cols, Math.floor((1264 + 8) / (MIN_TILE_W + 8)));
});

test('initials', () => {
  assert.equal(initials('Grace Hopper'), 'GH');
  assert.equal(initials('ada'), 'A');
  assert.equal(initials('  Jean  Claude Van Damme '), 'JD');
  assert.equal(initials(''), '?');
  assert.equal(initials('😀 Smile'), '😀S');
});
