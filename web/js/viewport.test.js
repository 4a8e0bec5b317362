import test from 'node:test';
import assert from 'node:assert/strict';
import { viewItems, sameView, inWindow, SIZE_STEP, PRIORITY } from './viewport.js';

const env = (over = {}) => ({ dpr: 1, hidden: false, priority: () => PRIORITY.normal, ...over });

test('sizes are in device pixels, rounded, the largest element wins', () => {
  const seen = new Map([['v1', [{ width: 160, height: 90, intersecting: true }, { width: 320, height: 180, intersecting: false }]]]);
  const [item] = viewItems(['v1'], seen, env({ dpr: 2 }));
  assert.equal(item.width, 640);
  assert.equal(item.height, 360);
  assert.equal(item.visible, true);
  assert.equal(item.width % SIZE_STEP, 0);
});

test('a track no element shows, or shows with no size, is not visible', () => {
  const seen = new Map([['b', [{ width: 0, height: 0, intersecting: true }]]]);
  const items = viewItems(['b', 'a'], seen, env());
  assert.deepEqual(items.map((i) => [i.track, i.visible, i.width]), [['a', false, 0], ['b', false, 0]]);
});

test('scrolled out of view, or a hidden tab, is not visible', () => {
  const seen = new Map([['a', [{ width: 300, height: 200, intersecting: false }]], ['b', [{ width: 300, height: 200, intersecting: true }]]]);
  assert.deepEqual(viewItems(['a', 'b'], seen, env()).map((i) => i.visible), [false, true]);
  assert.deepEqual(viewItems(['a', 'b'], seen, env({ hidden: true })).map((i) => i.visible), [false, false]);
});

test('priority comes from the callback', () => {
  const seen = new Map([['s', [{ width: 10, height: 10, intersecting: true }]]]);
  const [item] = viewItems(['s'], seen, env({ priority: (t) => (t === 's' ? PRIORITY.screen : 0) }));
  assert.equal(item.priority, PRIORITY.screen);
});

test('sameView compares every field', () => {
  const a = [{ track: 'x', width: 8, height: 8, visible: true, priority: 10 }];
  assert.equal(sameView(a, [{ ...a[0] }]), true);
  assert.equal(sameView(a, [{ ...a[0], visible: false }]), false);
  assert.equal(sameView(a, []), false);
  assert.equal(sameView(a, null), false);
});

test('inWindow: a rectangle overlapping the window, not one beside it or empty', () => {
  const r = (left, top, w, h) => ({ left, top, right: left + w, bottom: top + h });
  assert.equal(inWindow(r(0, 0, 320, 180), 1280, 720), true);
  assert.equal(inWindow(r(-100, -50, 320, 180), 1280, 720), true);
  assert.equal(inWindow(r(-5000, 0, 320, 180), 1280, 720), false);
  assert.equal(inWindow(r(1280, 0, 320, 180), 1280, 720), false);
  assert.equal(inWindow(r(0, 800, 320, 180), 1280, 720), false);
  assert.equal(inWindow(r(10, 10, 0, 0), 1280, 720), false);
});
