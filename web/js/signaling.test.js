import test, { mock } from 'node:test';
import assert from 'node:assert/strict';

/** FakeWebSocket records what the client sends and lets the test play the server. */
class FakeWebSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all = [];
  constructor(url) {
    super();
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    FakeWebSocket.all.push(this);
  }
  send(s) { this.sent.push(JSON.parse(s)); }
  close(code = 1000) { this.serverClose(code); }
  // test side
  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }
  msg(obj) { this.dispatchEvent(Object.assign(new Event('message'), { data: JSON.stringify(obj) })); }
  serverClose(code = 1006) {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.readyState = FakeWebSocket.CLOSED;
    this.dispatchEvent(Object.assign(new Event('close'), { code }));
  }
}
globalThis.WebSocket = FakeWebSocket;
const { Signaling, wsURL } = await import('./signaling.js');

function setup() {
  FakeWebSocket.all = [];
  const sig = new Signaling({ url: 'ws://x/ws', room: 'r1', name: 'Ada' });
  const events = [];
  for (const t of ['welcome', 'peer-joined', 'error', 'server-shutdown', 'status']) {
    sig.addEventListener(t, (e) => events.push([t, e.detail]));
  }
  return { sig, events, last: () => FakeWebSocket.all.at(-1) };
}

test('wsURL follows the page scheme', () => {
  assert.equal(wsURL({ protocol: 'http:', host: 'localhost:8080' }), 'ws://localhost:8080/ws');
  assert.equal(wsURL({ protocol: 'https:', host: 'meet.example.org' }), 'wss://meet.example.org/ws');
});

test('joins on open and dispatches server messages', () => {
  const { sig, events, last } = setup();
  sig.connect();
  last().open();
  assert.deepEqual(last().sent, [{ type: 'join', v: 1, room: 'r1', name: 'Ada' }]);
  last().msg({ type: 'welcome', id: 'abc', peers: [] });
  last().msg({ type: 'peer-joined', peer: { id: 'p2', name: 'Grace' } });
  last().msg({ type: 'nonsense' }); // ignored
  assert.deepEqual(events.filter(([t]) => t !== 'status').map(([t]) => t), ['welcome', 'peer-joined']);
  assert.equal(sig.signal('p2', { candidate: null }), true);
  assert.deepEqual(last().sent.at(-1), { type: 'signal', to: 'p2', data: { candidate: null } });
  sig.leave();
  assert.deepEqual(last().sent.at(-1), { type: 'leave' });
  assert.equal(sig.status, 'closed');
});

test('reconnects with growing delays and re-joins', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { sig, events, last } = setup();
    sig.connect();
    last().open();
    last().msg({ type: 'welcome', id: 'a1', peers: [] });
    last().serverClose(1006);
    const delays = [];
    for (let i = 0; i < 4; i++) {
      const st = events.filter(([t]) => t === 'status').at(-1)[1];
      assert.equal(st.status, 'reconnecting');
      delays.push(st.delay);
      mock.timers.tick(st.delay);
      last().serverClose(1006); // the server is still down
    }
    assert.equal(FakeWebSocket.all.length, 5);
    // Equal jitter (backoff.js): attempt i waits between half and all of
    // its nominal delay, 0.5 s · 2^i, so the schedule grows whatever the dice.
    for (let i = 0; i < delays.length; i++) {
      const nominal = 500 * 2 ** i;
      assert.ok(delays[i] >= nominal / 2 && delays[i] <= nominal, `delay ${i} is ${delays[i]}, want ${nominal / 2}..${nominal} (all: ${delays})`);
    }
    // The server is back: the next socket joins again; welcome resets the back-off.
    const st = events.filter(([t]) => t === 'status').at(-1)[1];
    mock.timers.tick(st.delay);
    last().open();
    assert.deepEqual(last().sent, [{ type: 'join', v: 1, room: 'r1', name: 'Ada' }]);
    last().msg({ type: 'welcome', id: 'a2', peers: [] });
    assert.equal(sig.status, 'open');
    assert.equal(sig.attempt, 0);
    sig.stop();
  } finally {
    mock.timers.reset();
  }
});

test('server-shutdown is passed on and followed by a reconnect', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { sig, events, last } = setup();
    sig.connect();
    last().open();
    last().msg({ type: 'welcome', id: 'a1', peers: [] });
    last().msg({ type: 'server-shutdown', reconnect: true });
    last().serverClose(1001);
    assert.ok(events.some(([t]) => t === 'server-shutdown'));
    const st = events.filter(([t]) => t === 'status').at(-1)[1];
    assert.equal(st.status, 'reconnecting');
    assert.equal(st.reason, 'server-shutdown');
    assert.ok(st.delay <= 500);
    sig.stop();
  } finally {
    mock.timers.reset();
  }
});

test('a refused join stops the client (no reconnect loop)', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { sig, events, last } = setup();
    sig.connect();
    last().open();
    last().msg({ type: 'error', code: 'room-full', message: 'this room is limited to 2 participants (mesh-only mode)', ref: 'join' });
    const err = events.find(([t]) => t === 'error')[1];
    assert.equal(err.join, true);
    assert.equal(sig.status, 'closed');
    mock.timers.tick(60000);
    assert.equal(FakeWebSocket.all.length, 1);
  } finally {
    mock.timers.reset();
  }
});

test('errors after welcome are not join refusals', () => {
  const { sig, events, last } = setup();
  sig.connect();
  last().open();
  last().msg({ type: 'welcome', id: 'a1', peers: [] });
  last().msg({ type: 'error', code: 'unknown-peer', message: 'no such participant', ref: 'signal' });
  assert.equal(events.find(([t]) => t === 'error')[1].join, undefined);
  assert.equal(sig.status, 'open');
  sig.stop();
});

test('a dropped socket re-joins with the resume token; what was said meanwhile is sent only if resumed', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { sig, last } = setup();
  sig.connect();
  last().open();
  last().msg({ type: 'welcome', id: 'abc', peers: [], resume: 'TOKEN1' });
  last().serverClose(1006);
  assert.equal(sig.signal('p2', { sdp: 'offer' }), true, 'kept for a resume');
  t.mock.timers.tick(60000);
  last().open();
  assert.deepEqual(last().sent, [{ type: 'join', v: 1, room: 'r1', name: 'Ada', resume: 'TOKEN1' }]);
  last().msg({ type: 'welcome', id: 'abc', peers: [], resume: 'TOKEN2', resumed: true });
  assert.deepEqual(last().sent.at(-1), { type: 'signal', to: 'p2', data: { sdp: 'offer' } });

  // Not resumed (the server restarted): the old signal is meaningless.
  last().serverClose(1006);
  sig.signal('p2', { sdp: 'stale' });
  t.mock.timers.tick(60000);
  last().open();
  assert.equal(last().sent[0].resume, 'TOKEN2');
  last().msg({ type: 'welcome', id: 'new', peers: [], resume: 'TOKEN3' });
  assert.equal(last().sent.length, 1, 'nothing but the join was sent');
  sig.leave?.();
});

test('a connection another one resumed (close 4000) stops instead of taking its place back', () => {
  const { sig, events, last } = setup();
  sig.connect();
  last().open();
  last().msg({ type: 'welcome', id: 'abc', peers: [] });
  const sockets = FakeWebSocket.all.length;
  last().serverClose(4000);
  const status = events.filter(([t]) => t === 'status').at(-1)[1];
  assert.equal(status.status, 'closed');
  assert.equal(status.reason, 'taken-over');
  sig.retryNow?.();
  assert.equal(FakeWebSocket.all.length, sockets, 'no new socket after a take-over');
});
