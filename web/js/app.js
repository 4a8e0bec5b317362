// The room page (/r/{room}): lobby, then the call. Wires signaling, the
// mesh, local media and the UI together.
//
// Query parameters:
//   ?name=NAME    skip the lobby and join with the default devices
//   ?quality=low  capture 320×180 at 15 fps (weak machines, tests)
//   ?relay=1      test only: iceTransportPolicy 'relay' (forces TURN)
//
// Debug handle for tests (the only global): window.parley =
//   {state: 'lobby'|'joining'|'in-call'|'reconnecting'|'left', id, mode,
//    peers() → [{id, name, pc, state}]}

import { Signaling, wsURL } from './signaling.js';
import { Mesh } from './mesh.js';
import { LocalMedia, describeMediaProblems, problemOf } from './media.js';
import { ROOM_RE, nameProblem } from './rooms.js';
import { runLobby, rememberedDevices, rememberName } from './lobby.js';
import {
  Tile, Grid, showBanner, hideBanner, initBanner, initAutoplayButton, showView, setPressed,
} from './ui.js';

const params = new URLSearchParams(location.search);

/** @type {Mesh|null} */
let mesh = null;

const debug = {
  state: 'lobby',
  id: null,
  mode: null,
  peers: () => (mesh ? mesh.list() : []),
};
window.parley = debug;

function setState(state) {
  debug.state = state;
  document.body.dataset.state = state;
}

/** Human text for every error code of docs/protocol.md. */
function errorText(msg) {
  const detail = typeof msg.message === 'string' ? msg.message : '';
  switch (msg.code) {
    case 'room-full':
      return `You can't join right now: ${detail || 'the room is full'}. Try again later.`;
    case 'bad-room':
      return `This room name is not valid: ${detail}`;
    case 'bad-name':
      return `Please choose another name: ${detail}`;
    case 'bad-version':
      return 'This page is older than the server. Reload the page to get the new version.';
    case 'already-joined':
      return 'You are already in this room in this tab.';
    case 'not-joined':
      return 'You are not in the room yet; please wait a moment.';
    case 'unknown-peer':
      return 'That participant has just left.';
    case 'rate-limited':
      return 'Too many messages at once; some were dropped. The call should recover by itself.';
    case 'too-large':
      return 'A message was too large for the server and the connection was reset.';
    case 'internal':
      return `The server ran into a problem${detail ? `: ${detail}` : ''}.`;
    default:
      return detail || `The server refused a request (${msg.code || 'unknown error'}).`;
  }
}

function roomFromPath() {
  const m = location.pathname.match(/^\/r\/([^/]+)$/);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return '';
  }
}

async function main() {
  initBanner();
  initAutoplayButton();
  const room = roomFromPath();
  if (!ROOM_RE.test(room)) {
    showView('lobby');
    showBanner('This is not a valid room address. Go back to the home page to start or join a room.');
    return;
  }
  const media = new LocalMedia({ quality: params.get('quality') === 'low' ? 'low' : 'normal' });
  Object.assign(media, rememberedDevices());
  const ready = media.start().then(() => { performance.mark('parley:media'); });

  let name = params.get('name') ?? '';
  let error = name ? nameProblem(name) : '';
  if (name && !error) {
    name = name.trim();
    rememberName(name);
  } else {
    setState('lobby');
    ({ name } = await runLobby({ room, media, ready, name, error }));
  }
  // Rejoin from the lobby after a refusal, as many times as needed.
  for (;;) {
    const refusal = await call({ room, name, media, ready });
    if (!refusal) return;
    setState('lobby');
    ({ name } = await runLobby({ room, media, ready, name, error: refusal.code === 'bad-name' ? errorText(refusal) : '' }));
  }
}

/**
 * call runs one call until the person leaves (resolves null) or the server
 * refuses the join (resolves the error message, back to the lobby).
 */
function call({ room, name, media, ready }) {
  return new Promise((resolve) => {
    setState('joining');
    showView('call');
    document.title = `${room} — Parley`;
    document.getElementById('call-room').textContent = room;
    document.getElementById('call-room-h').textContent = room;

    const grid = new Grid(document.getElementById('grid'));
    const self = new Tile({ key: 'self', name, self: true });
    grid.add(self);
    self.setStream(media.camera);

    const sig = new Signaling({ url: wsURL(), room, name });
    mesh = new Mesh({ signaling: sig, media, relayOnly: params.get('relay') === '1' });
    const m = mesh;

    ready.then(() => {
      const problem = describeMediaProblems(media.problems);
      if (problem && !finished) showBanner(problem, { kind: 'warn', key: 'media' });
    });

    // --- tiles ---------------------------------------------------------
    const cameraTile = (peer) => grid.get(peer.id)
      ?? grid.add(new Tile({ key: peer.id, name: peer.name || 'Guest', peerId: peer.id }));
    const screenKey = (id) => `${id}:screen`;
    const dropTiles = (id) => {
      grid.remove(id);
      grid.remove(screenKey(id));
    };
    const updateCount = () => {
      const n = m.peers.size + 1;
      document.getElementById('peer-count').textContent = n === 1 ? 'Only you' : `${n} people`;
    };
    const updateIndicators = (peer) => {
      const t = grid.get(peer.id);
      if (!t) return;
      t.setMic(peer.remote.mic);
      t.setCam(peer.remote.cam && !peer.videoMuted());
    };

    m.addEventListener('peer-stream', ({ detail: { peer, role, stream } }) => {
      if (role === 'screen') {
        const t = grid.get(screenKey(peer.id))
          ?? grid.add(new Tile({ key: screenKey(peer.id), name: peer.name || 'Guest', peerId: peer.id, screen: true }));
        t.setStream(stream);
        t.setState('connected');
      } else {
        cameraTile(peer).setStream(stream);
        updateIndicators(peer);
      }
    });
    m.addEventListener('peer-unstream', ({ detail: { peer, role } }) => {
      if (role === 'screen') grid.remove(screenKey(peer.id));
    });
    m.addEventListener('peer-media', ({ detail: { peer } }) => updateIndicators(peer));
    m.addEventListener('peer-state', ({ detail: { peer } }) => {
      grid.get(peer.id)?.setState(peer.state);
      updateIndicators(peer);
    });
    m.addEventListener('peer-gone', ({ detail: { peer } }) => {
      m.remove(peer.id);
      dropTiles(peer.id);
      updateCount();
    });

    // --- signaling -----------------------------------------------------
    // The socket opens while the camera starts (both take a while on real
    // hardware), but room events are handled in order and only once local
    // media is ready, so our first offers already carry our tracks.
    let chain = ready;
    const inOrder = (fn) => (ev) => {
      chain = chain.then(() => {
        if (!finished) fn(ev);
      }).catch((err) => console.error('parley:', err));
    };
    let shutdownNotice = false;
    sig.addEventListener('welcome', inOrder(({ detail: w }) => {
      performance.mark('parley:welcome');
      debug.id = w.id;
      setMode(w.mode);
      if (typeof w.name === 'string' && w.name) self.setName(w.name);
      // A (re)join is a fresh start: new id, new connections. Keep the tiles
      // of people who are still here; their streams are swapped in place.
      const still = new Set((w.peers ?? []).map((p) => p.id));
      grid.clear((t) => t.self || (still.has(t.el.dataset.peerId) && !t.screen));
      m.start(w);
      for (const p of w.peers ?? []) cameraTile(p).setState('connecting');
      updateCount();
      shutdownNotice = false;
      hideBanner('conn');
      setState('in-call');
    }));
    sig.addEventListener('peer-joined', inOrder(({ detail }) => {
      const peer = m.add(detail.peer);
      cameraTile(peer).setState('connecting');
      updateCount();
    }));
    sig.addEventListener('peer-left', inOrder(({ detail }) => {
      m.remove(detail.peer?.id);
      dropTiles(detail.peer?.id);
      updateCount();
    }));
    sig.addEventListener('signal', inOrder(({ detail }) => m.onSignal(detail.from, detail.data)));
    sig.addEventListener('mode', ({ detail }) => setMode(detail.mode));
    sig.addEventListener('server-shutdown', () => {
      shutdownNotice = true;
      showBanner('Server restarting, reconnecting…', { kind: 'warn', key: 'conn' });
    });
    sig.addEventListener('error', ({ detail }) => {
      if (detail.join) {
        finish();
        showBanner(errorText(detail), {
          kind: 'error',
          action: detail.code === 'room-full' ? { label: 'Try again', run: () => document.getElementById('join')?.click() } : null,
        });
        resolve(detail);
        return;
      }
      console.warn('parley: server error', detail.code, detail.message);
      const transient = detail.code === 'unknown-peer' || detail.code === 'rate-limited';
      showBanner(errorText(detail), { kind: transient ? 'info' : 'error', timeout: transient ? 5000 : 0 });
    });
    sig.addEventListener('status', ({ detail }) => {
      if (detail.status === 'reconnecting') {
        if (debug.state === 'in-call' || debug.state === 'reconnecting') setState('reconnecting');
        const secs = detail.delay ? ` (next try in ${Math.ceil(detail.delay / 1000)} s)` : '';
        showBanner(shutdownNotice ? 'Server restarting, reconnecting…'
          : `Can't reach the server. Reconnecting…${secs}`, {
          kind: 'warn',
          key: 'conn',
          action: { label: 'Retry now', run: () => sig.retryNow() },
        });
      }
    });

    function setMode(mode) {
      debug.mode = mode;
      const badge = document.getElementById('mode');
      badge.dataset.mode = mode;
      badge.textContent = mode === 'sfu' ? 'SFU' : 'mesh';
      badge.title = mode === 'sfu'
        ? 'Video goes through the server (SFU), still encrypted in transit'
        : 'Video goes directly between browsers (mesh)';
      if (mode === 'sfu') {
        showBanner('This room is in SFU mode, which this version of the web client cannot use yet.', { kind: 'warn', key: 'mode' });
      } else {
        hideBanner('mode');
      }
    }

    // --- local media and controls -------------------------------------
    const micBtn = document.getElementById('mic-toggle');
    const camBtn = document.getElementById('cam-toggle');
    const screenBtn = document.getElementById('screen-toggle');
    const leaveBtn = document.getElementById('leave');
    const linkBtn = document.getElementById('copy-link');
    if (!navigator.mediaDevices?.getDisplayMedia) screenBtn.hidden = true;

    const renderLocal = () => {
      const d = media.describe();
      // Our own screen share, so we see what the others see.
      if (d.screen) {
        const t = grid.get('self:screen')
          ?? grid.add(new Tile({ key: 'self:screen', name: self.name, self: true, screen: true }));
        t.setStream(media.screen);
      } else {
        grid.remove('self:screen');
      }
      setPressed(micBtn, d.mic, d.mic ? 'Turn microphone off' : 'Turn microphone on');
      setPressed(camBtn, d.cam, d.cam ? 'Turn camera off' : 'Turn camera on');
      setPressed(screenBtn, !!d.screen, d.screen ? 'Stop sharing your screen' : 'Share your screen');
      self.setMic(d.mic);
      self.setCam(d.cam);
    };
    renderLocal();
    const onMedia = () => {
      renderLocal();
      m.localChanged();
    };
    media.addEventListener('change', onMedia);

    const fail = (what) => (err) => {
      if (what === 'screen' && err?.name === 'NotAllowedError') return; // the person cancelled
      const reason = {
        denied: 'access is blocked for this site',
        missing: 'no device was found',
        busy: 'it is in use by another application',
        insecure: 'the page is not secure (https://)',
      }[problemOf(err)] ?? (err?.message || err?.name || String(err));
      const subject = what === 'screen' ? 'Screen sharing' : `Your ${what}`;
      showBanner(`${subject} could not be started: ${reason}.`, { kind: 'error', timeout: 8000 });
    };
    const ac = new AbortController();
    const on = (target, type, fn) => target.addEventListener(type, fn, { signal: ac.signal });
    on(micBtn, 'click', () => media.setMic(!media.describe().mic).catch(fail('microphone')));
    on(camBtn, 'click', () => media.setCam(!media.describe().cam).catch(fail('camera')));
    on(screenBtn, 'click', () => {
      if (media.sharing) media.stopScreen();
      else media.startScreen().catch(fail('screen'));
    });
    on(linkBtn, 'click', () => copyInvite(room));
    on(leaveBtn, 'click', () => {
      finish();
      media.stop();
      setState('left');
      const rejoin = /** @type {HTMLAnchorElement} */ (document.getElementById('rejoin'));
      rejoin.href = location.href;
      showView('left');
      resolve(null);
    });
    on(window, 'pagehide', () => finish());
    on(window, 'online', () => sig.retryNow());

    let finished = false;
    function finish() {
      if (finished) return;
      finished = true;
      ac.abort();
      media.removeEventListener('change', onMedia);
      sig.leave();
      m.closeAll();
      grid.clear();
      grid.observer.disconnect();
      hideBanner();
      if (mesh === m) mesh = null;
    }

    sig.connect();
  });
}

async function copyInvite(room) {
  // The fragment (later: the E2EE room secret) stays in the link; it is never sent to the server.
  const link = `${location.origin}/r/${encodeURIComponent(room)}${location.hash}`;
  try {
    await navigator.clipboard.writeText(link);
    showBanner(`Invite link copied: ${link}`, { kind: 'info', timeout: 4000 });
  } catch {
    showBanner(`Share this link: ${link}`, { kind: 'info' });
  }
}

if (document.readyState === 'complete') main();
else window.addEventListener('load', () => main(), { once: true });
