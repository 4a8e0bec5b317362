// @ts-check
// The room page (/r/{room}): lobby, then the call (call.js).
//
// Query parameters:
//   ?name=NAME    skip the lobby and join with the default devices
//   ?quality=low  capture 320×180 at 15 fps (weak machines, tests)
//   ?relay=1      test only: iceTransportPolicy 'relay' (forces TURN)
//   ?token=JWT    signed join token from an application embedding Parley
//                 (docs/access.md), sent with every join
// Fragment: #k=SECRET, the room secret of the invite link (never sent to
// the server) that authenticates everyone's E2EE keys.
// Every room is end-to-end encrypted unless the server's welcome says an
// administrator allowed it unencrypted; no URL turns encryption off
// (roomcrypto.js, docs/e2ee.md "Unencrypted rooms").
//
// Debug handle for tests (the only global): window.parley =
//   {state: 'lobby'|'joining'|'in-call'|'reconnecting'|'left', id, mode, policy,
//    peers() → [{id, name, pc, state, polite, glares, path, target, on}],
//    switching, sfu() → {state, publishing, pc, sending, forwarded}, switches(),
//    permissions → {publish, admin}, roles() → {id: {viewer, moderator}},
//    moderate(action, to)}
// (call.js fills in the call's part.)
//
// A token that says `publish: false` (a viewer, docs/access.md) means the
// camera and microphone are never started, so the browser never asks for
// them; the server's `welcome` then confirms it (call.js).

import { LocalMedia } from './media.js';
import { ROOM_RE, nameProblem } from './rooms.js';
import { runLobby, rememberedDevices, rememberName } from './lobby.js';
import { runCall } from './call.js';
import { transformSupport, roomSecretFromHash, preloadMls } from './e2ee.js';
import { errorText, needsPassword } from './errors.js';
import { showBanner, initBanner, initAutoplayButton, showView } from './ui.js';
import { tokenHint } from './permissions.js';

const params = new URLSearchParams(location.search);

const debug = {
  state: 'lobby',
  id: null,
  mode: null,
  policy: null,
  switching: false,
  peers: () => [],
  sfu: () => null,
  switches: () => [],
  e2ee: () => null,
  permissions: null,
  roles: () => ({}),
};
Object.assign(window, { parley: debug });

function setState(state) {
  debug.state = state;
  document.body.dataset.state = state;
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
  // A browser that cannot transform encoded frames cannot join an
  // encrypted room. An invite link's room always is; any other room says
  // so in its welcome (call.js).
  const e2ee = { secret: roomSecretFromHash(location.hash), wasEncrypted: false };
  if (e2ee.secret && !transformSupport()) {
    showView('lobby');
    showBanner('This browser cannot encrypt calls end to end (it lacks encoded transforms), and this room is end-to-end encrypted. Use a current Chrome, Edge, Firefox or Safari.');
    return;
  }
  // The token comes from the link; what it claims is only a hint until
  // the server's welcome (which only a valid token gets).
  const token = params.get('token') ?? '';
  const viewer = tokenHint(token)?.publish === false;
  const media = new LocalMedia({ quality: params.get('quality') === 'low' ? 'low' : 'normal' });
  Object.assign(media, rememberedDevices());
  if (viewer) media.forbid(); // no camera, no microphone, no prompt
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
  // The room password lives only in memory, for this page's joins and
  // re-joins.
  let password = '';
  // Rejoin from the lobby after a refusal, as many times as needed.
  for (;;) {
    const refusal = await runCall({
      room, name, media, ready, relayOnly: params.get('relay') === '1', debug, setState, e2ee, password, token,
    });
    if (!refusal || refusal.ended) return;
    if (refusal.rejoin) continue; // the room became encrypted: join again, encrypting
    setState('lobby');
    const askPassword = needsPassword(refusal.code);
    ({ name, password } = await runLobby({
      room, media, ready, name,
      error: refusal.code === 'bad-name' ? errorText(refusal) : '',
      askPassword,
      passwordError: askPassword ? errorText(refusal) : '',
    }));
  }
}

preloadMls(); // ≈ 0.4 s of module loading, done while the page starts (docs/benchmarks.md)
if (document.readyState === 'complete') main();
else window.addEventListener('load', () => main(), { once: true });
