import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentRect, toContent, fromContent } from './pointer.js';

test('contain letterboxes a wide picture in a tall box', () => {
  const r = contentRect(1920, 1080, 400, 400);
  assert.deepEqual(r, { x: 0, y: 87.5, w: 400, h: 225 });
  assert.equal(toContent(200, 50, r), null); // on the bar
  assert.deepEqual(toContent(100, 87.5 + 225 * 0.75, r), { x: 0.25, y: 0.75 });
});

test('contain pillarboxes a tall picture in a wide box', () => {
  const r = contentRect(1080, 1920, 1600, 900);
  assert.equal(r.h, 900);
  assert.ok(Math.abs(r.x - (1600 - 506.25) / 2) < 1e-9);
});

test('cover crops, and the mapping is its own inverse', () => {
  const r = contentRect(640, 360, 300, 300, 'cover');
  assert.equal(r.h, 300);
  assert.ok(r.x < 0);
  const p = fromContent(0.5, 0.5, r);
  assert.deepEqual(p, { x: 150, y: 150 });
  const q = toContent(p.x, p.y, r);
  assert.deepEqual(q, { x: 0.5, y: 0.5 });
});

test('no picture yet: the whole box', () => {
  assert.deepEqual(contentRect(0, 0, 320, 180), { x: 0, y: 0, w: 320, h: 180 });
});
