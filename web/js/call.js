// @ts-check
// One call, from join to leave: wires signaling, the mesh links, the SFU
// link, the mesh ⇄ SFU switch, the tiles, the controls and moderation
// together.

import { Signaling, wsURL } from './signaling.js';
import { Mesh } from './mesh.js';
import { SfuLink } from './sfu.js';
import { Switcher } from './switch.js';
import { TileView } from './tiles.js';
import { wireControls, wireLayout, setAlone } from './controls.js';
import { Speaking } from './speaking.js';
import { toast, clearToasts } from './toasts.js';
import { wireShortcuts } from './shortcuts.js';
import { describeMediaProblems } from './media.js';
import {
  Tile, Grid, showBanner, hideBanner, showView, setModeBadge, setPreflightNote, setRoleNote, setUnencrypted,
} from './ui.js';
import { errorText, endText } from './errors.js';
import { E2EE, transformSupport } from './e2ee.js';
import {
  decide, refusalText, KEEP_ENCRYPTING_TEXT, PLAIN_TEXT, PLAIN_CHAT_NOTE,
} from './roomcrypto.js';
import { Channels } from './channels.js';
import { wireData } from './datafeatures.js';
import { Roles, permissionsOf, roleLabels } from './permissions.js';
import { Moderation } from './moderation.js';
import { MediaWatch, trackCounts } from './mediastate.js';

/** How often the anonymous health report goes to the server, and its cap per count. */
const STATS_INTERVAL_MS = 15000;
const STATS_MAX = 1 << 20;

/** Errors after which the call is over and must not be re-joined by itself. */
const FINAL_ERRORS = new Set(['kicked', 'room-closed']);

/**
 * runCall runs one call until the person leaves (resolves null), is
 * removed or refused for the room's encryption (resolves {ended: code}),
 * must join again because the room became encrypted (resolves {rejoin:
 * true}) or the server refuses the join (resolves the error message: back
 * to the lobby).
 * @param {{room: string, name: string, media: import('./media.js').LocalMedia,
 *          ready: Promise<void>, relayOnly: boolean, debug: object,
 *          e2ee?: {secret: Uint8Array<ArrayBuffer>|null, wasEncrypted?: boolean},
 *          password?: string, token?: string,
 *          setState: (s: string) => void}} o
 *   e2ee: the room secret of the invite link, and whether this page has
 *   been in the room encrypted (set here; roomcrypto.js). Whether the
 *   room is encrypted comes from the server's welcome, under
 *   roomcrypto.js's rules.
 */
export function runCall({
  room, name, media, ready, relayOnly, debug, setState, e2ee: e2eeOpts = { secret: null },
  password = '', token = '',
}) {
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

    const sig = new Signaling({ url: wsURL(), room, name, password, token });
    const view = new TileView(grid);
    // Encrypting until the welcome says an administrator allowed the room
    // unencrypted (follow below).
    const e2ee = new E2EE({ signaling: sig, secret: e2eeOpts.secret });
    // What we may do (welcome.permissions; until then what the page
    // assumed from the link's token) and what everyone else is.
    let perms = { publish: media.allowed, admin: false };
    const roles = new Roles();
    const isViewer = (id) => roles.viewer(id);
    /** @type {Switcher} */
    let sw;
    const mesh = new Mesh({
      signaling: sig, media, relayOnly, accept: () => sw.mode === 'mesh', viewer: isViewer, e2ee,
      // A link the watchdog could not heal alone: the room moves to the SFU.
      viaServer: (id) => sig.linkFailed(id),
    });
    const sfu = new SfuLink({ signaling: sig, media, relayOnly, viewer: isViewer, e2ee });
    sw = new Switcher({ mesh, sfu, view, signal: (to, data) => sig.signal(to, data) });
    let policy = '';
    expose(debug, { mesh, sfu, sw });
    // Tests: drop the signaling socket as a network failure would (4001 is
    // no goodbye, so the server keeps us resumable; not 4000, which means
    // another connection took us over and ends the call page).
    debug.dropSignaling = () => sig.ws?.close(4001, 'dropped by a test');
    debug.e2ee = () => e2ee.info();
    debug.permissions = { ...perms };
    debug.roles = () => Object.fromEntries(roles.byId);
    // Tests: send `moderate` whatever the menus allow (the server decides).
    debug.moderate = (action, to) => sig.moderate(action, to);

    // --- data channels (docs/datachannels.md): sealed with the E2EE keys ---
    const channels = new Channels({
      sealer: { seal: (b) => e2ee.sealData(b), open: (id, b) => e2ee.openData(id, b) },
      pathOf: (id) => pathOf(id),
      peers: () => [...sw.parts.keys()],
      mode: () => sw.mode,
    });
    mesh.addEventListener('peer-channels', (/** @type {CustomEvent} */ { detail: { peer } }) => channels.attachMesh(peer.id, peer.pc));
    sfu.addEventListener('pc', (/** @type {CustomEvent} */ { detail: { pc } }) => channels.attachSfu(pc));

    // --- end-to-end encryption: a lock per tile, names from MLS credentials,
    // a banner for everyone not admitted ---
    const refused = new Map();
    const showRefused = () => {
      if (!refused.size) {
        hideBanner('e2ee');
        return;
      }
      const names = [...refused.keys()].map((f) => view.names.get(f) ?? refused.get(f) ?? 'Guest');
      showBanner(`${names.join(', ')} ${refused.size === 1 ? 'is' : 'are'} not admitted: could not prove they have the invite link. Nothing is sent to them.`,
        { kind: 'error', key: 'e2ee' });
    };
    e2ee.addEventListener('peer', (/** @type {CustomEvent} */ { detail: { id, info } }) => {
      // Names shown come from the MLS credential, not from the server.
      if (info?.name) setCredentialName(id, info.name);
      if (info?.state !== 'refused' && refused.delete(id)) showRefused();
      view.e2ee(id, info);
    });
    e2ee.addEventListener('refused', (/** @type {CustomEvent} */ { detail: { id, name } }) => {
      refused.set(id, name);
      showRefused();
    });
    e2ee.addEventListener('problem', (/** @type {CustomEvent} */ { detail: { text } }) => showBanner(text, { kind: 'error', key: 'e2ee-group' }));
    /** setCredentialName shows a member's credential name on their tiles, people list and chat. */
    const setCredentialName = (id, name) => {
      if (view.names.get(id) === name) return;
      view.names.set(id, name);
      const part = sw.parts.get(id);
      if (part) part.name = name;
      for (const role of ['camera', 'screen']) view.get(id, role)?.setName(name);
    };
    const lockOff = (id) => {
      if (!e2ee.enabled) view.e2ee(id, { state: 'off' });
    };

    // --- the room's encryption as the server states it (roomcrypto.js) ---
    let decided = false;
    /** follow applies welcome.e2ee or an `e2ee` message; false: this call is over. */
    const follow = (said) => {
      const d = decide({
        said, started: decided, encrypting: e2ee.enabled, canEncrypt: transformSupport() !== '',
        secret: !!e2eeOpts.secret, wasEncrypted: !!e2eeOpts.wasEncrypted,
      });
      const first = !decided;
      decided = true;
      switch (d) {
        case 'rejoin':
          finish();
          resolve({ rejoin: true });
          return false;
        case 'refuse-invite': case 'refuse-downgrade': case 'refuse-unsupported':
          end(d);
          return false;
        case 'keep-encrypting':
          console.warn('parley: the server says this room is no longer end-to-end encrypted; this call stays encrypted');
          showBanner(KEEP_ENCRYPTING_TEXT, { kind: 'error', key: 'e2ee-server' });
          return true;
        case 'plain':
          if (first) {
            e2ee.disable();
            setUnencrypted({ strip: PLAIN_TEXT, chatNote: PLAIN_CHAT_NOTE });
            showBanner(PLAIN_TEXT, { kind: 'warn', key: 'e2ee-off' });
          }
          return true;
        default:
          if (first) {
            e2eeOpts.wasEncrypted = true;
            setUnencrypted(null);
          }
          return true;
      }
    };

    ready.then(() => {
      const problem = describeMediaProblems(media.problems);
      if (problem && !finished) showBanner(problem, { kind: 'warn', key: 'media' });
    });

    // --- tiles: indicators and states follow the path each tile shows ---
    const pathOf = (id) => {
      const p = sw.parts.get(id);
      return p ? (p.on.camera ?? p.target) : 'mesh';
    };
    /** participants whose signaling dropped and who may resume (peer-away) */
    const away = new Set();
    const refresh = (id) => {
      const link = mesh.peers.get(id)?.pc ? mesh.peers.get(id) : null;
      const viaSfu = pathOf(id) === 'sfu';
      const meshFlags = link?.remote ?? null;
      const sfuFlags = sfu.remoteMedia(id);
      /** @type {{mic?: boolean, cam?: boolean}} */
      const flags = (viaSfu ? sfuFlags ?? meshFlags : meshFlags ?? sfuFlags) ?? {};
      const muted = viaSfu ? sfu.videoMuted(id) : (link ? link.videoMuted() : true);
      const state = away.has(id) ? 'reconnecting'
        : viaSfu ? sfuTileState(sfu.state) : (link ? link.state : 'connecting');
      // A viewer sends nothing, whatever its `media` payload claims.
      const sends = !isViewer(id);
      view.indicators(id, { mic: sends && (flags.mic ?? true), cam: sends && (flags.cam ?? true) && !muted, state });
    };
    // --- media state per participant (mediastate.js), shown apart from the lock ---
    /** watched describes a participant to the media watch: what they send, what their tiles show. */
    const watched = (p) => {
      const id = p.id;
      const link = mesh.peers.get(id)?.pc ? mesh.peers.get(id) : null;
      const viaSfu = pathOf(id) === 'sfu';
      /** @type {{mic?: boolean, cam?: boolean}} */
      const flags = (viaSfu ? sfu.remoteMedia(id) ?? link?.remote : link?.remote ?? sfu.remoteMedia(id)) ?? {};
      const sends = !isViewer(id);
      /** @type {{video: string[], audio: string[]}} */
      const tracks = { video: [], audio: [] };
      for (const role of ['camera', 'screen']) {
        const s = view.get(id, role)?.video.srcObject;
        if (!(s instanceof MediaStream)) continue;
        for (const t of s.getVideoTracks()) tracks.video.push(t.id);
        for (const t of s.getAudioTracks()) tracks.audio.push(t.id);
      }
      return {
        id, name: p.name, tracks, link: viaSfu ? null : link?.link ?? null,
        expectVideo: sends && (flags.cam ?? true) && !view.paused.has(id),
        expectAudio: sends && (flags.mic ?? true),
      };
    };
    const mediaPcs = () => [...[...mesh.peers.values()].map((l) => l.pc), sfu.pc].filter((pc) => !!pc);
    /** wantedTracks: the ids of every track a remote tile shows. */
    const wantedTracks = () => new Set([...sw.parts.values()].flatMap((p) => {
      const { tracks } = watched(p);
      return [...tracks.video, ...tracks.audio];
    }));
    const mediaWatch = new MediaWatch({
      participants: () => [...sw.parts.values()].map(watched),
      sample: () => trackCounts(mediaPcs(), wantedTracks()),
      onVerdict: (id, v) => view.setMedia(id, v),
    });
    mediaWatch.start();
    // Tests: the verdicts, and what the watch reads (for failure dumps).
    debug.media = () => Object.fromEntries([...view.media].map(([id, v]) => [id, { ...v }]));
    debug.mediaInputs = async () => {
      const problems = [];
      const counts = Object.fromEntries(await trackCounts(mediaPcs(), wantedTracks(), problems));
      return { counts, problems, watched: [...sw.parts.values()].map(watched) };
    };
    const refreshAll = () => {
      for (const id of sw.parts.keys()) refresh(id);
    };
    const updateCount = () => {
      const n = sw.parts.size + 1;
      document.getElementById('peer-count').textContent = n === 1 ? 'Only you' : `${n} people`;
      setAlone(n === 1 && !finished, room);
    };
    const updateBadge = () => setModeBadge({ mode: sw.mode, policy, switching: sw.switching });

    // --- permissions and roles (docs/access.md) ------------------------
    /** applyPermissions follows a welcome's permissions, before any connection starts. */
    const applyPermissions = (w) => {
      perms = permissionsOf(w);
      debug.permissions = { ...perms };
      // A viewer's devices are released and stay off: nothing is ever sent.
      if (perms.publish) media.allow();
      else media.forbid();
      const mine = roleLabels({ viewer: !perms.publish, moderator: perms.admin });
      self.setRoles(mine);
      setRoleNote(mine);
      moderation.setAdmin(perms.admin);
      view.decorate = (id, tile) => moderation.decorate(id, tile);
      renderLocal();
    };
    /** setRole records a participant descriptor's flags; true when they changed. */
    const setRole = (peer) => {
      if (!roles.set(peer)) return false;
      view.setRoles(peer.id, roleLabels(roles.get(peer.id)));
      return true;
    };
    /** roleChanged re-routes (a viewer's media is dropped) and redraws a participant. */
    const roleChanged = (id) => {
      mesh.recheck(id);
      sfu.recheck(id);
      const t = view.get(id);
      if (t) view.decorate?.(id, t);
      refresh(id);
    };

    mesh.addEventListener('peer-stream', (/** @type {CustomEvent} */ { detail: { peer, role, stream } }) => {
      sw.stream('mesh', peer.id, role, stream);
      refresh(peer.id);
    });
    mesh.addEventListener('peer-unstream', (/** @type {CustomEvent} */ { detail: { peer, role } }) => sw.unstream('mesh', peer.id, role));
    mesh.addEventListener('peer-media', (/** @type {CustomEvent} */ { detail: { peer } }) => {
      sw.setMedia(peer.id, peer.remote);
      refresh(peer.id);
    });
    mesh.addEventListener('peer-state', (/** @type {CustomEvent} */ { detail: { peer } }) => refresh(peer.id));
    // A mesh link that cannot connect says so on the tile (mesh.js watchdog).
    mesh.addEventListener('peer-link', (/** @type {CustomEvent} */ { detail: { peer } }) => view.setLinkState(peer.id, peer.link.state, peer.link.text));
    mesh.addEventListener('peer-gone', (/** @type {CustomEvent} */ { detail: { peer } }) => {
      sw.linkGone(peer.id);
      updateCount();
    });

    sfu.addEventListener('stream', (/** @type {CustomEvent} */ { detail: { peerId, role, stream } }) => {
      sw.stream('sfu', peerId, role, stream);
      refresh(peerId);
    });
    sfu.addEventListener('unstream', (/** @type {CustomEvent} */ { detail: { peerId, role } }) => sw.unstream('sfu', peerId, role));
    sfu.addEventListener('media', (/** @type {CustomEvent} */ { detail: { peerId } }) => refresh(peerId));
    sfu.addEventListener('paused', (/** @type {CustomEvent} */ { detail: { tiles } }) => view.setPaused(tiles));
    // Who is talking comes from speaking.js in every mode; the SFU's
    // speaker announcement is not needed for the tiles.
    sfu.addEventListener('state', (/** @type {CustomEvent} */ { detail: { state } }) => {
      if (state === 'failed') {
        console.warn('parley: the SFU pre-flight failed: this browser cannot reach the media server; calls larger than a mesh may not work');
      }
      setPreflightNote(state === 'failed');
      refreshAll();
    });

    sw.addEventListener('tile', (/** @type {CustomEvent} */ { detail: { id } }) => refresh(id));
    sw.addEventListener('change', () => {
      updateBadge();
      updateCount();
      if (!sw.stuckNames().length) hideBanner('switch');
    });
    sw.addEventListener('stuck', () => showStuck(sw));
    sw.addEventListener('settled', (/** @type {CustomEvent} */ { detail: { id } }) => {
      refresh(id);
      if (!sw.stuckNames().length) hideBanner('switch');
      updateBadge();
    });
    sw.addEventListener('switched', (/** @type {CustomEvent} */ { detail }) => {
      performance.mark('parley:switched', { detail });
      updateBadge();
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
      if (!follow(w.e2ee)) return;
      if (w.resumed === true && w.id === debug.id) {
        // The same participant again after a dropped socket
        // (docs/protocol.md "Reconnecting"): every peer connection is
        // still up and what happened meanwhile follows this welcome.
        debug.resumes = (debug.resumes ?? 0) + 1;
        policy = w.policy ?? policy;
        debug.policy = policy;
        mesh.iceServers = w.iceServers ?? mesh.iceServers;
        updateBadge();
        hideBanner('conn');
        setState('in-call');
        return;
      }
      performance.mark('parley:welcome');
      debug.id = w.id;
      debug.mode = w.mode;
      policy = w.policy ?? policy;
      debug.policy = policy;
      if (typeof w.name === 'string' && w.name) self.setName(w.name);
      // A (re)join is a fresh start: new id, new connections. Keep the tiles
      // of people who are still here; their streams are swapped in place.
      const still = new Set((w.peers ?? []).map((p) => p.id));
      grid.clear((t) => t.self || (still.has(t.el.dataset.peerId) && !t.screen));
      applyPermissions(w);
      roles.reset();
      for (const p of w.peers ?? []) setRole(p);
      e2ee.start(w.id, w.mls ?? {}, (w.peers ?? []).map((p) => p.id), w.name ?? name);
      channels.setSelf(w.id);
      data?.welcome(w);
      mesh.start(w, { connect: w.mode !== 'sfu' });
      sfu.start(w);
      sw.begin(w);
      view.redecorate(); // tiles kept from before this welcome
      for (const p of w.peers ?? []) lockOff(p.id);
      updateBadge();
      updateCount();
      shutdownNotice = false;
      hideBanner('conn');
      setState('in-call');
    }));
    sig.addEventListener('peer-joined', inOrder(({ detail }) => {
      if (detail.peer?.name) toast(`${detail.peer.name} joined`, { kind: 'join' });
      if (detail.peer?.id) setRole(detail.peer);
      if (detail.peer?.id) e2ee.peerJoined(detail.peer.id);
      sw.joined(detail.peer ?? {});
      if (detail.peer?.id) lockOff(detail.peer.id);
    }));
    sig.addEventListener('peer-away', inOrder(({ detail }) => {
      if (detail.peer?.id) away.add(detail.peer.id);
      if (setRole(detail.peer)) roleChanged(detail.peer.id);
      refresh(detail.peer?.id);
    }));
    sig.addEventListener('peer-back', inOrder(({ detail }) => {
      away.delete(detail.peer?.id);
      if (setRole(detail.peer)) roleChanged(detail.peer.id);
      refresh(detail.peer?.id);
    }));
    sig.addEventListener('peer-left', inOrder(({ detail }) => {
      const gone = sw.parts.get(detail.peer?.id)?.name ?? detail.peer?.name;
      if (gone) toast(`${gone} left`, { kind: 'leave' });
      away.delete(detail.peer?.id);
      if (detail.peer?.id) {
        e2ee.peerLeft(detail.peer.id);
        if (refused.delete(detail.peer.id)) showRefused();
      }
      sw.left(detail.peer?.id);
      roles.delete(detail.peer?.id);
    }));
    sig.addEventListener('e2ee', inOrder(({ detail }) => follow(detail.e2ee)));
    // A moderator turned our microphone off (docs/protocol.md `muted`).
    sig.addEventListener('muted', inOrder(({ detail }) => moderation.onMuted(detail)));
    sig.addEventListener('mls', inOrder(({ detail }) => e2ee.onMls(detail)));
    sig.addEventListener('signal', inOrder(({ detail: { from, data } }) => {
      if (from === 'sfu') sfu.onSignal(data);
      else if (data && typeof data === 'object' && typeof data.moved === 'string') sw.moved(from, data.moved);
      else mesh.onSignal(from, data);
    }));
    sig.addEventListener('mode', inOrder(({ detail }) => {
      if (detail.policy && detail.policy !== policy) {
        policy = detail.policy;
        debug.policy = policy;
        showBanner(`An administrator set this room to ${policyText(policy)}.`, { kind: 'info', key: 'policy', timeout: 6000 });
      }
      debug.mode = detail.mode;
      sw.setMode(detail.mode);
      updateBadge();
    }));
    sig.addEventListener('server-shutdown', () => {
      shutdownNotice = true;
      showBanner('Server restarting, reconnecting…', { kind: 'warn', key: 'conn' });
    });
    sig.addEventListener('error', (/** @type {CustomEvent} */ { detail }) => {
      if (detail.ref === 'mls' && !detail.join) {
        e2ee.onError(detail); // the Delivery Service's ordering, not the person's business
        return;
      }
      if (detail.join) {
        finish();
        showBanner(errorText(detail), {
          kind: 'error',
          action: detail.code === 'room-full' ? { label: 'Try again', run: () => document.getElementById('join')?.click() } : null,
        });
        resolve(detail);
        return;
      }
      if (detail.ref === 'link-failed') {
        // Not an auto room (or no SFU): the link's own note already says
        // it cannot connect, and its watchdog keeps trying.
        console.info('parley: the server will not carry this room through the SFU:', detail.message);
        return;
      }
      if (FINAL_ERRORS.has(detail.code)) {
        end(detail.code, typeof detail.message === 'string' ? detail.message : '');
        return;
      }
      console.warn('parley: server error', detail.code, detail.message);
      if (sfuRefusal(detail)) {
        // The media server refused or is missing: the SFU path is unusable,
        // which the pre-flight note says quietly.
        setPreflightNote(true);
        return;
      }
      const transient = detail.code === 'unknown-peer' || detail.code === 'rate-limited';
      showBanner(errorText(detail), { kind: transient ? 'info' : 'error', timeout: transient ? 5000 : 0 });
    });
    sig.addEventListener('status', (/** @type {CustomEvent} */ { detail }) => {
      if (detail.status === 'closed' && detail.reason === 'taken-over') {
        end('taken-over');
        return;
      }
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

    // --- local media and controls -------------------------------------
    const ac = new AbortController();
    const renderLocal = wireControls({
      media,
      grid,
      self,
      room,
      signal: ac.signal,
      onLeave: () => {
        finish();
        media.stop();
        showEnd('left');
        resolve(null);
      },
      permissions: () => perms,
    });
    renderLocal();
    wireShortcuts({ onLayout: wireLayout({ grid, signal: ac.signal }), signal: ac.signal });
    // Who is talking (every mode): levels of every connection media may come on.
    new Speaking({
      grid,
      media,
      pcs: () => [...[...mesh.peers.values()].map((p) => p.pc), sfu.pc].filter(Boolean),
      onMutedTalk: () => toast('You are muted: press M or the Mic button to talk', { kind: 'muted' }),
      signal: ac.signal,
    });
    const moderation = new Moderation({
      send: (action, to) => sig.moderate(action, to),
      media,
      nameOf: (id) => sw.parts.get(id)?.name ?? view.names.get(id) ?? 'Guest',
      isViewer,
      signal: ac.signal,
    });
    const data = wireData({
      channels, sw, view, grid, self, media, debug, signal: ac.signal,
      rolesOf: (id) => roleLabels(id ? roles.get(id) : { viewer: !perms.publish, moderator: perms.admin }),
    });
    const onMedia = () => {
      renderLocal();
      data.mediaChanged();
      mesh.localChanged();
      sfu.localChanged();
    };
    media.addEventListener('change', onMedia);
    window.addEventListener('pagehide', () => finish(), { signal: ac.signal });
    window.addEventListener('online', () => sig.retryNow(), { signal: ac.signal });

    /** end: the server ended our call (kicked, room closed); no rejoin. */
    function end(code, message = '') {
      finish();
      media.stop();
      showEnd(code, message);
      resolve({ ended: code });
    }

    /** showEnd shows the page of a call that ended; message: the server's reason. */
    function showEnd(code, message = '') {
      setState('left');
      document.body.dataset.ended = code;
      const { title, text } = refusalText(code) ?? endText(code, message);
      document.getElementById('left-title').textContent = title;
      document.getElementById('left-text').textContent = text;
      const rejoin = /** @type {HTMLAnchorElement} */ (document.getElementById('rejoin'));
      rejoin.href = location.href;
      showView('left');
      // The page says why; a banner on top of it would repeat it and hide
      // the title. Focus moves to the title, so a screen reader reads it.
      hideBanner();
      document.getElementById('left-title').focus();
    }

    // Health report (docs/protocol.md `stats`): counts only, no identities,
    // so an operator sees E2EE failing in a room without learning who.
    let reportedSwitches = 0;
    const report = setInterval(() => {
      const { decrypted, failed, beforeKey = 0 } = e2ee.takeCounts();
      const done = sw.history.filter((h) => h.doneAt);
      const last = done.length > reportedSwitches ? done.at(-1) : null;
      reportedSwitches = done.length;
      if (!decrypted && !failed && !beforeKey && !last) return;
      const stats = { decryptedFrames: Math.min(decrypted, STATS_MAX), decryptFailures: Math.min(failed, STATS_MAX),
        decryptFailuresBeforeKey: Math.min(beforeKey, STATS_MAX) };
      if (last) stats.switchMs = Math.min(Math.round(last.ms), STATS_MAX);
      sig.stats(stats);
    }, STATS_INTERVAL_MS);

    let finished = false;
    function finish() {
      if (finished) return;
      finished = true;
      clearInterval(report);
      mediaWatch.stop();
      ac.abort();
      media.removeEventListener('change', onMedia);
      sig.leave();
      sw.close();
      sfu.close();
      mesh.closeAll();
      e2ee.close();
      channels.close();
      grid.clear();
      grid.observer.disconnect();
      setRoleNote([]);
      setAlone(false, room);
      clearToasts();
      hideBanner();
      expose(debug, null);
    }

    sig.connect();
  });
}

/**
 * sfuRefusal recognises errors about our signals to the SFU ("this server
 * has no SFU", "the SFU refused this session description"): not the person's business.
 */
function sfuRefusal(err) {
  return err.ref === 'signal' && /\bsfu\b/i.test(err.message ?? '');
}

/** sfuTileState maps the SFU link's state to a tile's data-state. */
function sfuTileState(state) {
  return { connected: 'connected', failed: 'failed', closed: 'failed' }[state] ?? 'connecting';
}

function policyText(policy) {
  return { 'mesh-only': 'mesh only (a small room, direct connections)', 'sfu-only': 'SFU only (video through the server)', auto: 'automatic (mesh for small groups, SFU for large ones)' }[policy] ?? policy;
}

/** showStuck warns about participants whose video could not move to the new path. */
function showStuck(sw) {
  const names = sw.stuckNames();
  if (!names.length) return;
  const to = sw.mode === 'sfu' ? 'the server (SFU)' : 'direct connections';
  showBanner(`Could not move ${names.join(', ')} to ${to} yet; still showing them the old way.`, { kind: 'warn', key: 'switch' });
}

/**
 * expose fills the debug handle (window.parley) with this call's views:
 * peers() → [{id, name, pc (mesh link), state, polite, glares, path, target, on}],
 * switching, sfu() → the SFU link's state, switches() → finished switches.
 */
function expose(debug, s) {
  if (!s) {
    debug.peers = () => [];
    debug.sfu = () => null;
    debug.e2ee = () => null;
    debug.switches = () => [];
    Object.defineProperty(debug, 'switching', { value: false, configurable: true, enumerable: true });
    return;
  }
  const { mesh, sfu, sw } = s;
  debug.peers = () => sw.list().map((p) => {
    const link = mesh.peers.get(p.id);
    return {
      ...p,
      pc: link?.pc ?? null,
      state: link?.state ?? null,
      polite: link?.polite ?? null,
      glares: link?.glares ?? 0,
    };
  });
  debug.sfu = () => sfu.info();
  // How each mesh link routes what it receives (tests dump it on failure).
  debug.routing = () => [...mesh.peers.values()].map((p) => ({
    id: p.id,
    remote: p.routing.remote,
    shown: { camera: p.routing.shown.camera?.id ?? null, screen: p.routing.shown.screen?.id ?? null },
    streams: [...p.routing.streams].map(([id, s]) => `${id}: ${s.getTracks().map((t) => `${t.kind} ${t.readyState}${t.muted ? ' muted' : ''}`).join(', ')}`),
    transceivers: p.pc?.getTransceivers().map((t) => `${t.mid} ${t.direction}/${t.currentDirection} ${t.receiver.track.muted ? 'muted' : 'live'}`) ?? [],
    signaling: p.pc?.signalingState ?? null,
    queued: p.queued, step: p.step && { ...p.step, ms: Date.now() - p.step.since },
    pendingOffer: !!p.pendingOffer, wantOffer: p.wantOffer, polite: p.polite, firstOffer: p.firstOffer,
    ladder: [...p.ladder], trace: p.traced,
  }));
  // Every mesh link watchdog's rungs per participant, kept after the link closed.
  debug.ladders = () => Object.fromEntries([...mesh.ladders].map(([id, l]) => [id, [...l]]));
  debug.switches = () => sw.history.map((h) => ({ ...h }));
  Object.defineProperty(debug, 'switching', { get: () => sw.switching, configurable: true, enumerable: true });
}
