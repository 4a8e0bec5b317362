import test from 'node:test';
import assert from 'node:assert/strict';
import { Switcher } from './switch.js';

/** stream fakes a MediaStream with tracks of the given kinds. */
function stream(...kinds) {
  const tracks = kinds.map((kind) => ({ kind, readyState: 'live' }));
  return { getTracks: () => tracks, getVideoTracks: () => tracks.filter((t) => t.kind === 'video') };
}

/** setup builds a Switcher over fakes that record what it does. */
function setup({ timeoutMs = 50 } = {}) {
  const calls = [];
  const links = new Set();
  const mesh = {
    has: (id) => links.has(id),
    connect: ({ id }) => { links.add(id); calls.push(['connect', id]); },
    add: ({ id }) => calls.push(['add', id]),
    remove: (id) => { links.delete(id); calls.push(['remove', id]); },
  };
  const media = new Map();
  const sfu = {
    publishing: false,
    publish(on) { this.publishing = on; calls.push(['publish', on]); },
    remoteMedia: (id) => media.get(id) ?? null,
    forget: (id) => calls.push(['forget', id]),
  };
  const prepared = new Map(); // "id/role" → {stream, wantFrame, resolve}
  const view = {
    shown: new Map(),
    add: (id) => calls.push(['tile', id]),
    remove: (id) => calls.push(['untile', id]),
    show(id, role, s) { this.shown.set(`${id}/${role}`, s); },
    unshow(id, role) { this.shown.delete(`${id}/${role}`); },
    prepare(id, role, s, wantFrame) {
      return new Promise((resolve) => prepared.set(`${id}/${role}`, { stream: s, wantFrame, resolve }));
    },
    commit(id, role) {
      const p = prepared.get(`${id}/${role}`);
      if (!p) return false;
      prepared.delete(`${id}/${role}`);
      this.shown.set(`${id}/${role}`, p.stream);
      return true;
    },
    cancel(id, role) {
      const p = prepared.get(`${id}/${role}`);
      prepared.delete(`${id}/${role}`);
      p?.resolve(false);
    },
    stuck: (id, on) => calls.push(['stuck', id, on]),
    path: () => {},
  };
  const sent = [];
  const sw = new Switcher({ mesh, sfu, view, signal: (to, data) => sent.push([to, data]), timeoutMs });
  /** frame presents the prepared stream of id/role (its first frames decoded). */
  const frame = async (key) => {
    const p = prepared.get(key);
    assert.ok(p, `nothing prepared for ${key}`);
    p.resolve(true);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { sw, calls, links, sfu, view, prepared, sent, media, frame };
}

const welcome = (mode, ...ids) => ({ id: 'm', mode, peers: ids.map((id) => ({ id, name: id.toUpperCase() })) });

test('mesh → SFU: each tile moves on its first frame, the link closes when both sides moved', async () => {
  const { sw, calls, links, sfu, view, prepared, sent, frame } = setup();
  sw.begin(welcome('mesh', 'z'));
  links.add('z');
  const cam = stream('audio', 'video');
  const scr = stream('video');
  sw.stream('mesh', 'z', 'camera', cam);
  sw.stream('mesh', 'z', 'screen', scr);
  assert.equal(view.shown.get('z/camera'), cam);
  assert.equal(sw.list()[0].path, 'mesh');

  sw.setMode('sfu');
  assert.equal(sfu.publishing, true);
  assert.equal(sw.switching, true);
  // Audio first: not ready to move (audio moves with video).
  sw.stream('sfu', 'z', 'camera', stream('audio'));
  assert.equal(prepared.size, 0);
  const cam2 = stream('audio', 'video');
  sw.stream('sfu', 'z', 'camera', cam2);
  assert.equal(prepared.get('z/camera').wantFrame, true);
  await frame('z/camera');
  assert.equal(view.shown.get('z/camera'), cam2);
  assert.equal(sw.list()[0].path, 'mesh', 'not settled while the screen is on mesh');
  assert.equal(sw.switching, true);
  const scr2 = stream('video');
  sw.stream('sfu', 'z', 'screen', scr2);
  await frame('z/screen');
  assert.equal(view.shown.get('z/screen'), scr2);
  assert.equal(sw.list()[0].path, 'sfu');
  assert.equal(sw.switching, false);
  assert.deepEqual(sent, [['z', { moved: 'sfu' }]]);
  assert.ok(links.has('z'), 'the link stays until the other side has moved too');
  sw.moved('z', 'sfu');
  assert.ok(!links.has('z'));
  assert.deepEqual(calls.filter((c) => c[0] === 'remove'), [['remove', 'z']]);
  assert.equal(sw.history.length, 1);
  assert.equal(sw.history[0].to, 'sfu');
});

test('SFU → mesh: the smaller id offers; publishing stops once everyone moved', async () => {
  const { sw, calls, sfu, view, sent, frame } = setup();
  sw.begin(welcome('sfu', 'a', 'z'));
  assert.equal(sfu.publishing, true);
  assert.ok(!calls.some((c) => c[0] === 'add' || c[0] === 'connect'), 'no mesh links in an SFU room');
  const a1 = stream('audio', 'video');
  const z1 = stream('audio', 'video');
  sw.stream('sfu', 'a', 'camera', a1);
  sw.stream('sfu', 'z', 'camera', z1);
  assert.equal(view.shown.get('a/camera'), a1, 'first media is shown at once');

  sw.setMode('mesh');
  assert.deepEqual(calls.filter((c) => c[0] === 'connect'), [['connect', 'z']], 'we offer to the larger id only');
  assert.ok(calls.some((c) => c[0] === 'add' && c[1] === 'a'), 'and wait for the smaller one');
  sw.stream('mesh', 'a', 'camera', stream('audio', 'video'));
  sw.stream('mesh', 'z', 'camera', stream('audio', 'video'));
  await frame('a/camera');
  await frame('z/camera');
  assert.equal(sw.switching, false);
  assert.deepEqual(sent.map(([to, d]) => [to, d.moved]), [['a', 'mesh'], ['z', 'mesh']]);
  assert.equal(sfu.publishing, true, 'others may still show us through the SFU');
  sw.moved('a', 'mesh');
  assert.equal(sfu.publishing, true);
  sw.left('z'); // gone instead of confirming
  assert.equal(sfu.publishing, false);
});

test('a new path that shows nothing within the timeout keeps the old one, with a warning', async () => {
  const { sw, calls, view, frame } = setup({ timeoutMs: 20 });
  const stuck = [];
  sw.addEventListener('stuck', (e) => stuck.push(e.detail.name));
  sw.begin(welcome('mesh', 'z'));
  const cam = stream('audio', 'video');
  sw.stream('mesh', 'z', 'camera', cam);
  sw.setMode('sfu');
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(stuck, ['Z']);
  assert.deepEqual(sw.stuckNames(), ['Z']);
  assert.equal(view.shown.get('z/camera'), cam, 'still the mesh stream');
  // Frames come later after all: the move completes and the warning goes.
  sw.stream('sfu', 'z', 'camera', stream('audio', 'video'));
  await frame('z/camera');
  assert.equal(sw.list()[0].path, 'sfu');
  assert.deepEqual(sw.stuckNames(), []);
  assert.deepEqual(calls.filter((c) => c[0] === 'stuck'), [['stuck', 'z', true], ['stuck', 'z', false]]);
});

test('a camera that is off moves without waiting for a frame', async () => {
  const { sw, media, prepared, frame } = setup();
  sw.begin(welcome('mesh', 'z'));
  sw.stream('mesh', 'z', 'camera', stream('audio', 'video'));
  media.set('z', { mic: true, cam: false });
  sw.setMode('sfu');
  sw.stream('sfu', 'z', 'camera', stream('audio', 'video'));
  assert.equal(prepared.get('z/camera').wantFrame, false);
  await frame('z/camera');
  assert.equal(sw.list()[0].path, 'sfu');
});

test('someone with nothing to show is moved at once', () => {
  const { sw } = setup();
  sw.begin(welcome('mesh', 'z'));
  sw.setMode('sfu');
  assert.equal(sw.list()[0].path, 'sfu');
  assert.equal(sw.switching, false);
});

test('a mesh link closing: participant gone in a mesh, only the link during a switch', async () => {
  const { sw, calls, links, view } = setup();
  sw.begin(welcome('mesh', 'y', 'z'));
  links.add('y');
  links.add('z');
  sw.stream('mesh', 'y', 'camera', stream('video'));
  sw.linkGone('y');
  assert.ok(calls.some((c) => c[0] === 'untile' && c[1] === 'y'), 'tab closed: tiles go at once');
  assert.equal(sw.parts.has('y'), false);

  sw.stream('mesh', 'z', 'camera', stream('video'));
  sw.setMode('sfu');
  const s = stream('video');
  sw.stream('sfu', 'z', 'camera', s);
  sw.linkGone('z'); // the other side closed early: show the SFU stream at once
  assert.equal(sw.parts.has('z'), true);
  assert.equal(view.shown.get('z/camera'), s);
  assert.equal(sw.list()[0].path, 'sfu');
});

test('peers joining an SFU room get no mesh link; a policy-only change does nothing', () => {
  const { sw, calls } = setup();
  sw.begin(welcome('sfu'));
  sw.joined({ id: 'q', name: 'Q' });
  sw.setMode('sfu');
  assert.ok(!calls.some((c) => c[0] === 'add' || c[0] === 'connect'));
  assert.equal(sw.history.length, 0);
});

test('publishing on the SFU stops anyway when a client never confirms', async () => {
  const { sw, sfu, frame } = setup({ timeoutMs: 20 });
  sw.begin(welcome('sfu', 'z'));
  sw.stream('sfu', 'z', 'camera', stream('video'));
  sw.setMode('mesh');
  sw.stream('mesh', 'z', 'camera', stream('video'));
  await frame('z/camera');
  assert.equal(sfu.publishing, true);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(sfu.publishing, false);
});
