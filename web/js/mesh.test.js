import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Mesh } from './mesh.js';

// The link-health watchdog of mesh.js, over a stand-in RTCPeerConnection
// (Node has none) and mocked timers: what the tile is told, and which
// recovery step runs when.

/** FakePC records what the watchdog does to a connection that never connects. */
class FakePC extends EventTarget {
  constructor(config) {
    super();
    this.config = { ...config };
    this.connectionState = 'new';
    this.signalingState = 'stable';
    this.localDescription = null;
    this.currentLocalDescription = null;
    this.restarts = 0;
    this.rollbacks = 0;
    FakePC.last = this;
  }
  getConfiguration() { return { ...this.config }; }
  setConfiguration(c) { this.config = { ...c }; }
  restartIce() { this.restarts++; }
  addTransceiver(kind) {
    return { sender: { track: null, replaceTrack: async () => {}, setStreams() {} }, receiver: { track: { kind } }, direction: 'recvonly', stopped: false, mid: null };
  }
  createDataChannel(label, opts) {
    const dc = new EventTarget();
    return Object.assign(dc, { label, ...opts, readyState: 'connecting', send() {}, close() {} });
  }
  getTransceivers() { return []; }
  getSenders() { return []; }
  getReceivers() { return []; }
  async setLocalDescription(d) {
    if (d?.type === 'rollback') {
      this.rollbacks++;
      this.signalingState = 'stable';
      return;
    }
    this.signalingState = 'have-local-offer';
    const desc = { type: 'offer', sdp: 'v=0\r\n' };
    this.localDescription = { ...desc, toJSON: () => desc };
  }
  close() {}
  connect() {
    this.connectionState = 'connected';
    this.dispatchEvent(new Event('connectionstatechange'));
  }
}

const TURN = [{ urls: ['turn:127.0.0.1:3478?transport=udp'], username: 'u', credential: 'c' }];

/** setup makes a mesh whose newcomer ("a") connects to Bob ("b"), and records peer-link events. */
function setup(t, iceServers, viaServer = null) {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  t.after(() => mock.timers.reset());
  globalThis.RTCPeerConnection = FakePC;
  const sent = [];
  const media = { describe: () => ({}), track: () => null, camera: null, screen: null };
  const mesh = new Mesh({ signaling: { signal: (to, data) => sent.push(data) }, media, viaServer });
  const links = [];
  mesh.addEventListener('peer-link', ({ detail: { peer } }) => links.push({ ...peer.link }));
  mesh.start({ id: 'a', iceServers, peers: [] });
  const peer = mesh.connect({ id: 'b', name: 'Bob' });
  return { mesh, peer, pc: FakePC.last, links, sent };
}

/** advance moves the clock and lets the peer's queued steps run. */
async function advance(ms) {
  mock.timers.tick(ms);
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

test('a link not connected after 10 s says so, restarts ICE, then goes relay only, then says it failed', async (t) => {
  const { pc, links } = setup(t, TURN);
  await advance(9999);
  assert.deepEqual(links, [], 'nothing to say before 10 s');
  await advance(1);
  assert.deepEqual(links.at(-1), { state: 'trying', text: "Can't connect directly to Bob — trying another way" });
  assert.equal(pc.restarts, 1);
  assert.equal(pc.config.iceTransportPolicy, 'all');
  await advance(10000);
  assert.equal(pc.config.iceTransportPolicy, 'relay', 'the relay through TURN is the second step');
  assert.equal(pc.restarts, 2);
  assert.equal(links.at(-1).state, 'trying');
  await advance(10000);
  assert.deepEqual(links.at(-1), { state: 'failed', text: "Can't connect to Bob. Still trying…" });
  assert.equal(pc.restarts, 3);
  await advance(10000);
  assert.equal(pc.restarts, 4, 'it keeps trying');
});

test('connecting clears the note and stops the watchdog', async (t) => {
  const { pc, links } = setup(t, TURN);
  await advance(10000);
  assert.equal(links.at(-1).state, 'trying');
  pc.connect();
  assert.deepEqual(links.at(-1), { state: '', text: '' });
  await advance(60000);
  assert.equal(pc.restarts, 1);
  assert.equal(pc.config.iceTransportPolicy, 'all');
});

test('without a TURN server the relay step is skipped', async (t) => {
  const { pc, links } = setup(t, [{ urls: 'stun:127.0.0.1:3478' }]);
  await advance(10000);
  await advance(10000);
  assert.equal(links.at(-1).state, 'failed');
  assert.equal(pc.config.iceTransportPolicy, 'all');
});

test('an unanswered offer is sent again at 10 s and taken back at 20 s', async (t) => {
  const { peer, pc, sent } = setup(t, TURN);
  await peer.enqueue(() => peer.negotiate());
  assert.equal(pc.signalingState, 'have-local-offer');
  const offers = () => sent.filter((d) => d.description?.type === 'offer').length;
  assert.equal(offers(), 1);
  await advance(10000);
  assert.equal(offers(), 2, 'the same offer again');
  assert.equal(pc.rollbacks, 0);
  assert.equal(pc.restarts, 0);
  await advance(10000);
  assert.equal(pc.rollbacks, 1);
  assert.equal(pc.restarts, 1);
});

test('a closed link clears its note', async (t) => {
  const { mesh, links } = setup(t, TURN);
  await advance(10000);
  mesh.remove('b');
  assert.deepEqual(links.at(-1), { state: '', text: '' });
});

test('a link still waiting for the first offer shows the note but makes no offer of its own', async (t) => {
  const { mesh, links } = setup(t, TURN);
  mesh.onSignal('c', { media: {} }); // c's first signal: we answer c, who offers
  const pc = FakePC.last;
  await advance(10000);
  assert.ok(links.some((l) => l.state === 'trying'));
  assert.equal(pc.restarts, 0, 'an offer with no m-line would be refused');
  assert.equal(pc.signalingState, 'stable');
});

test('the ladder ends by asking the server to carry the room (after the relay)', async (t) => {
  const asked = [];
  const { peer, pc, links } = setup(t, TURN, (id) => asked.push(id));
  await advance(10000);
  await advance(10000);
  assert.equal(pc.config.iceTransportPolicy, 'relay');
  assert.deepEqual(asked, []);
  await advance(10000);
  assert.deepEqual(asked, ['b'], 'link-failed about Bob, once');
  assert.deepEqual(links.at(-1), { state: 'trying', text: "Can't connect directly to Bob — trying through the server" });
  await advance(10000);
  assert.equal(links.at(-1).state, 'failed', 'the server did not help: the link says it failed');
  await advance(10000);
  assert.deepEqual(asked, ['b'], 'asked only once');
  assert.deepEqual(peer.ladder, ['restart', 'relay', 'server', 'failed', 'failed']);
});

test('without a TURN server the server is asked right after the ICE restart', async (t) => {
  const asked = [];
  const { peer } = setup(t, [], (id) => asked.push(id));
  await advance(10000);
  assert.deepEqual(asked, []);
  await advance(10000);
  assert.deepEqual(asked, ['b']);
  assert.deepEqual(peer.ladder, ['restart', 'server']);
});

test('every screen share on a link goes out in one stream of that link, and the media payload names it', async (t) => {
  let made = 0;
  const hadStream = globalThis.MediaStream;
  globalThis.MediaStream = class { constructor() { this.id = `link-stream-${++made}`; } };
  t.after(() => { globalThis.MediaStream = hadStream; });
  const { mesh, peer, sent } = setup(t, []);
  await advance(0);
  const streamsSet = [];
  peer.tx.screen.sender.setStreams = (s) => streamsSet.push(s.id);
  // A LocalMedia as it is between shares: each share is a new stream with a
  // new id from getDisplayMedia.
  let share = null;
  mesh.media = {
    camera: { id: 'camera-stream' },
    get screen() { return share; },
    track: (role) => (role === 'screen' ? share?.track ?? null : null),
    describe: () => ({ camera: 'camera-stream', screen: share?.id ?? null, mic: false, cam: false }),
  };
  const announced = () => sent.filter((d) => d.media).at(-1).media.screen;

  share = { id: 'first-share', track: { kind: 'video' } };
  mesh.localChanged();
  await advance(0);
  const linkStream = peer.screenStream?.id;
  assert.ok(linkStream, 'a link stream is made at the first share');
  assert.equal(announced(), linkStream);
  assert.equal(peer.tx.screen.direction, 'sendrecv');

  share = null;
  mesh.localChanged();
  await advance(0);
  assert.equal(announced(), null);
  assert.equal(peer.tx.screen.direction, 'recvonly');

  share = { id: 'second-share', track: { kind: 'video' } };
  mesh.localChanged();
  await advance(0);
  assert.equal(announced(), linkStream, 'the second share is announced under the same stream');
  assert.deepEqual(streamsSet, [linkStream], 'setStreams once, at the first share');
  assert.equal(made, 1);
});
