import test from 'node:test';
import assert from 'node:assert/strict';
import { computeLayout, nextMode, MIN_TILE_W, ASPECT } from './layout.js';

const cam = (id, extra = {}) => ({ id, kind: 'camera', ...extra });
const self = { id: 'self', kind: 'self' };
const area = (r) => r.w * r.h;
const byId = (l) => Object.fromEntries(l.placed.map((p) => [p.id, p]));

/** inside checks every placed tile lies in the box and that no two overlap (pip excepted). */
function sane(l, w, h) {
  for (const p of l.placed) {
    assert.ok(p.x >= -0.01 && p.y >= -0.01 && p.x + p.w <= w + 0.01 && p.y + p.h <= h + 0.01, `${p.id} outside ${w}×${h}: ${JSON.stringify(p)}`);
    assert.ok(Math.abs(p.w / p.h - ASPECT) < 0.01, `${p.id} is not 16:9`);
  }
  const tiles = l.placed.filter((p) => p.role !== 'pip');
  for (const a of tiles) {
    for (const b of tiles) {
      if (a === b) continue;
      const apart = a.x + a.w <= b.x + 0.01 || b.x + b.w <= a.x + 0.01 || a.y + a.h <= b.y + 0.01 || b.y + b.h <= a.y + 0.01;
      assert.ok(apart, `${a.id} overlaps ${b.id}`);
    }
  }
}

test('a screen share takes the stage: at least half of a 1280×720 window, largest at 360 px', () => {
  const tiles = [self, cam('a'), cam('b'), { id: 'a:screen', kind: 'screen' }];
  const wide = computeLayout({ tiles, width: 1264, height: 600 });
  sane(wide, 1264, 600);
  assert.equal(wide.stage, 'a:screen');
  assert.ok(area(byId(wide)['a:screen']) >= 0.5 * 1280 * 720, `stage ${area(byId(wide)['a:screen'])} px²`);
  assert.deepEqual(wide.placed.filter((p) => p.role === 'strip').map((p) => p.id).sort(), ['a', 'b', 'self']);
  const phone = computeLayout({ tiles, width: 348, height: 520 });
  sane(phone, 348, 520);
  const stage = byId(phone)['a:screen'];
  for (const p of phone.placed) if (p !== stage) assert.ok(area(p) < area(stage), `${p.id} larger than the stage`);
});

test('a pin stages that tile in every mode; grid mode keeps screens in the grid', () => {
  const tiles = [self, cam('a'), cam('b', { pinned: true }), { id: 'a:screen', kind: 'screen' }];
  for (const mode of ['stage', 'speaker', 'grid']) assert.equal(computeLayout({ tiles, width: 1200, height: 600, mode }).stage, 'b');
  const unpinned = tiles.map((t) => ({ ...t, pinned: false }));
  const g = computeLayout({ tiles: unpinned, width: 1200, height: 600, mode: 'grid' });
  assert.equal(g.stage, null);
  assert.equal(g.placed[0].id, 'a:screen', 'screens come first');
  assert.ok(g.placed.every((p) => p.role === 'grid'));
});

test('the speaker mode stages the active speaker, never ourselves', () => {
  const tiles = [{ ...self, speaking: true }, cam('a'), cam('b', { speaking: true })];
  assert.equal(computeLayout({ tiles, width: 1200, height: 600, mode: 'speaker' }).stage, 'b');
  assert.equal(computeLayout({ tiles: [self, cam('a'), cam('b')], width: 1200, height: 600, mode: 'speaker' }).stage, 'a');
  assert.equal(computeLayout({ tiles, width: 1200, height: 600, mode: 'stage' }).stage, null, 'stage mode without a share or pin is a grid');
});

test('two people: the other fills the box, we are a picture in picture in the chosen corner', () => {
  const l = computeLayout({ tiles: [self, cam('a')], width: 1200, height: 600, pipCorner: 'top-left' });
  const { self: me, a } = byId(l);
  assert.equal(me.role, 'pip');
  assert.ok(me.x < 20 && me.y < 20);
  assert.ok(area(me) < area(a) / 4);
  sane({ placed: l.placed.map((x) => ({ ...x, role: 'grid' })) }, 1200, 600); // and they do not overlap
  const phone = computeLayout({ tiles: [self, cam('a')], width: 348, height: 520 });
  sane({ placed: phone.placed.map((x) => ({ ...x, role: 'grid' })) }, 348, 520);
  assert.ok(byId(phone).a.w > 340, 'on a phone the other person keeps the full width');
  const three = computeLayout({ tiles: [self, cam('a'), cam('b')], width: 1200, height: 600 });
  assert.ok(three.placed.every((p) => p.role === 'grid'), 'three people: a grid');
  const alone = computeLayout({ tiles: [self], width: 1200, height: 600 });
  assert.equal(alone.placed[0].role, 'grid');
});

test('tiles never get narrower than MIN_TILE_W: the rest go to further pages', () => {
  const tiles = [self, ...Array.from({ length: 40 }, (_, i) => cam(`p${i}`))];
  const l = computeLayout({ tiles, width: 700, height: 400, mode: 'grid' });
  sane(l, 700, 400);
  assert.ok(l.pages > 1);
  assert.equal(l.placed.length + l.hidden.length, 41);
  assert.ok(l.placed.every((p) => p.w >= MIN_TILE_W - 0.01));
  const last = computeLayout({ tiles, width: 700, height: 400, mode: 'grid', page: 99 });
  assert.equal(last.page, l.pages - 1, 'page clamped');
  const seen = new Set();
  for (let page = 0; page < l.pages; page++) {
    for (const p of computeLayout({ tiles, width: 700, height: 400, mode: 'grid', page }).placed) seen.add(p.id);
  }
  assert.equal(seen.size, 41, 'every tile is on some page');
  // The strip pages too.
  const s = computeLayout({ tiles: [{ id: 'x:screen', kind: 'screen' }, ...tiles], width: 1264, height: 600 });
  sane(s, 1264, 600);
  assert.ok(s.pages > 1 && s.placed.filter((p) => p.role === 'strip').length === s.perPage);
});

test('an empty box or no tiles places nothing; an unknown mode is the stage', () => {
  assert.deepEqual(computeLayout({ tiles: [], width: 100, height: 100 }).placed, []);
  assert.deepEqual(computeLayout({ tiles: [self], width: 0, height: 100 }).hidden, ['self']);
  assert.equal(computeLayout({ tiles: [self], width: 10, height: 10, mode: 'bogus' }).mode, 'stage');
  assert.equal(nextMode('stage'), 'speaker');
  assert.equal(nextMode('grid'), 'stage');
});
