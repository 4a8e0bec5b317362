import test from 'node:test';
import assert from 'node:assert/strict';
import { RemoteStreams, parseMedia } from './streams.js';

// Just enough of MediaStreamTrack and MediaStream for RemoteStreams.
let seq = 0;
class FakeTrack extends EventTarget {
  constructor(kind) {
    super();
    this.kind = kind;
    this.id = `t${++seq}`;
    this.readyState = 'live';
    this.muted = true; // remote tracks start muted until packets arrive
  }

  set(muted) {
    this.muted = muted;
    this.dispatchEvent(new Event(muted ? 'mute' : 'unmute'));
  }
}
class FakeStream extends EventTarget {
  constructor(id, tracks = []) {
    super();
    this.id = id;
    this.tracks = [...tracks];
  }

  getTracks() { return [...this.tracks]; }
  getVideoTracks() { return this.tracks.filter((t) => t.kind === 'video'); }
  removeTrack(t) {
    this.tracks = this.tracks.filter((x) => x !== t);
    this.dispatchEvent(new Event('removetrack'));
  }
}
globalThis.MediaStream ??= class extends FakeStream {
  constructor(tracks) { super(`shown${++seq}`, tracks); }
};

function routing() {
  const log = [];
  const shown = {};
  const r = new RemoteStreams({
    show: (role, s) => { shown[role] = s; log.push(`show ${role} ${s.getTracks().map((t) => t.id)}`); },
    unshow: (role) => { delete shown[role]; log.push(`unshow ${role}`); },
  });
  return { r, log, shown };
}

test('parseMedia keeps only what it understands', () => {
  assert.deepEqual(parseMedia({ camera: 'c', screen: '', mic: false, x: 1 }), { camera: 'c', screen: null, mic: false, cam: true });
  assert.deepEqual(parseMedia('nonsense'), { camera: null, screen: null, mic: true, cam: true });
});

test('camera and screen follow the announced ids', () => {
  const { r, shown } = routing();
  const audio = new FakeTrack('audio');
  const video = new FakeTrack('video');
  const cam = new FakeStream('cam', [audio, video]);
  const screenTrack = new FakeTrack('video');
  const screen = new FakeStream('scr1', [screenTrack]);
  r.setMedia({ camera: 'cam', screen: 'scr1' });
  r.add(cam, audio);
  r.add(cam, video);
  r.add(screen, screenTrack);
  assert.deepEqual(shown.camera.getTracks(), [audio, video]);
  assert.deepEqual(shown.screen.getTracks(), [screenTrack]);
  r.setMedia({ camera: 'cam', screen: null });
  assert.equal(shown.screen, undefined);
  assert.ok(shown.camera);
});

// A second share on the same transceiver: the sender calls setStreams, the
// browser moves the (same) receiver track to a new stream but leaves it in
// the old one too. The `media` announcing the new share may arrive before
// the track event; the old stream must not be shown meanwhile.
test('a new share is not shown through the stale stream of the last one', () => {
  const { r, log, shown } = routing();
  const video = new FakeTrack('video');
  const cam = new FakeStream('cam', [video]);
  r.setMedia({ camera: 'cam', screen: null });
  r.add(cam, video);
  const t = new FakeTrack('video');
  const first = new FakeStream('scr1', [t]);
  r.setMedia({ camera: 'cam', screen: 'scr1' });
  r.add(first, t);
  t.set(false);
  assert.equal(shown.screen.getTracks()[0], t);
  // Share stopped: the remote stops sending; the track is muted, still live.
  r.setMedia({ camera: 'cam', screen: null });
  t.set(true);
  assert.equal(shown.screen, undefined);
  // Second share announced before its track event: nothing to show yet.
  log.length = 0;
  r.setMedia({ camera: 'cam', screen: 'scr2' });
  assert.equal(shown.screen, undefined, `stale stream shown: ${log}`);
  // The track event moves the track to the new stream.
  const second = new FakeStream('scr2', [t]);
  r.add(second, t);
  assert.ok(!r.streams.has('scr1'), 'the old stream is forgotten');
  assert.equal(shown.screen.getTracks()[0], t);
  assert.deepEqual(log, [`show screen ${t.id}`]);
});

test('an unannounced screen is found once its video arrives', () => {
  const { r, shown } = routing();
  const video = new FakeTrack('video');
  r.setMedia({ camera: 'cam', screen: 'prefixed-elsewhere' });
  r.add(new FakeStream('cam', [video]), video);
  const t = new FakeTrack('video');
  r.add(new FakeStream('other', [t]), t);
  assert.equal(shown.screen, undefined, 'muted: not yet');
  t.set(false);
  assert.equal(shown.screen.getTracks()[0], t);
});

test('nothing from a viewer is shown, and what was shown goes when they turn out to be one', () => {
  let viewer = true;
  const shown = {};
  const r = new RemoteStreams({
    show: (role, s) => { shown[role] = s; },
    unshow: (role) => { delete shown[role]; },
    accept: () => !viewer,
  });
  const video = new FakeTrack('video');
  const audio = new FakeTrack('audio');
  r.setMedia({ camera: 'cam', screen: null });
  r.add(new FakeStream('cam', [audio, video]), video);
  video.set(false);
  assert.deepEqual(shown, {}, 'a viewer\'s stream was shown');
  viewer = false;
  r.route();
  assert.ok(shown.camera);
  viewer = true;
  r.route();
  assert.deepEqual(shown, {});
});
