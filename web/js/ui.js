// DOM pieces of the room page: tiles, the grid that sizes them, the banner,
// the views. No call logic here.

import { VIEWER_TITLE } from './permissions.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

const ICONS = {
  micOff: 'M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11z',
  camOff: 'M4 6h11a2 2 0 0 1 2 2v2.5l4-3v9l-4-3V16a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z',
};

/** E2EE lock icons (closed, open), 24×24 paths. */
const LOCK = 'M18 8h-1V6A5 5 0 0 0 7 6v2H6a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V10a2 2 0 0 0-2-2zM9 6a3 3 0 0 1 6 0v2H9zm3 11a2 2 0 1 1 0-4 2 2 0 0 1 0 4z';
const LOCK_OPEN = 'M18 8h-8V6a2 2 0 0 1 4 0h2a4 4 0 0 0-8 0v2H6a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V10a2 2 0 0 0-2-2zm-6 9a2 2 0 1 1 0-4 2 2 0 0 1 0 4z';

/** svgEl makes an SVG element with the given attributes. */
export function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** icon builds a decorative 24×24 icon (class .icon, hidden from screen readers) of the given shapes. */
export function icon(...shapes) {
  const svg = svgEl('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true', class: 'icon' });
  svg.append(...shapes);
  return svg;
}

/** lockIcon builds the E2EE lock of a tile (open: an unencrypted room). */
function lockIcon(open) {
  return icon(svgEl('path', { d: open ? LOCK_OPEN : LOCK, fill: 'currentColor' }));
}

/** slashedIcon builds a small slashed icon ("off" indicators). */
function slashedIcon(path) {
  return icon(
    svgEl('path', { d: path, fill: 'currentColor' }),
    svgEl('line', { x1: 3, y1: 3, x2: 21, y2: 21, stroke: 'currentColor', 'stroke-width': 2.2, 'stroke-linecap': 'round' }),
  );
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * roleLabel is one role label ("Moderator", "Viewer"; permissions.js
 * roleLabels) after a name, on a tile or in the people list. DOM hook:
 * `.role[data-role=moderator|viewer]`.
 */
export function roleLabel(text) {
  const r = el('span', 'role', text);
  r.dataset.role = text.toLowerCase();
  return r;
}

/** initials returns up to two letters for an avatar. */
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const first = (w) => [...w][0] ?? '';
  const s = words.length > 1 ? first(words[0]) + first(words[words.length - 1]) : first(words[0] ?? '?');
  return s.toUpperCase() || '?';
}

const STATE_TEXT = {
  new: 'Waiting…',
  connecting: 'Connecting…',
  connected: '',
  reconnecting: 'Connection lost, reconnecting…',
  failed: 'Connection failed',
};

/**
 * A prepared stream is swapped in after this many presented frames: the
 * first frames of a new receiver come irregularly (key frame, then the
 * jitter buffer settles), so waiting for a few keeps the picture moving.
 */
const WARM_FRAMES = 3;

/** onFrames calls fn once video has presented n frames. */
function onFrames(video, n, fn) {
  video.requestVideoFrameCallback(() => {
    if (n <= 1) fn();
    else if (video.isConnected) onFrames(video, n - 1, fn);
  });
}

/** newVideo makes a tile's <video> element. */
function newVideo() {
  const v = /** @type {HTMLVideoElement} */ (el('video'));
  v.autoplay = true;
  v.playsInline = true;
  return v;
}

/** autoplay: videos whose sound the browser refused to start without a click. */
const blockedAudio = new Set();

function autoplayBlocked(video) {
  blockedAudio.add(video);
  const btn = document.getElementById('unmute-audio');
  if (btn) btn.hidden = false;
}

/** initAutoplayButton wires the "click to enable sound" button. */
export function initAutoplayButton() {
  const btn = document.getElementById('unmute-audio');
  if (!btn) return;
  btn.addEventListener('click', () => {
    for (const v of blockedAudio) {
      if (!v.isConnected) continue;
      v.muted = false;
      v.play().catch(() => {});
    }
    blockedAudio.clear();
    btn.hidden = true;
  });
}

/**
 * Tile is one participant's (or one screen share's) box in the grid:
 * <div class="tile" data-peer="NAME" data-peer-id="ID"> holding a <video>.
 * Its stream can be swapped with setStream without recreating the tile.
 */
export class Tile {
  /**
   * @param {{key: string, name: string, peerId?: string, self?: boolean, screen?: boolean}} o
   */
  constructor({ key, name, peerId = '', self = false, screen = false }) {
    this.key = key;
    this.self = self;
    this.screen = screen;
    this.el = el('div', 'tile');
    this.el.setAttribute('role', 'group');
    if (self) {
      this.el.classList.add('self');
      this.el.dataset.self = '';
    }
    if (screen) this.el.classList.add('screen');
    if (peerId) this.el.dataset.peerId = peerId;
    this.el.dataset.mic = 'on';
    this.el.dataset.cam = screen ? 'on' : 'off';
    this.el.dataset.state = self ? 'connected' : 'connecting';

    this.video = newVideo();
    this.video.classList.add('live');
    // Our own sound would echo; a screen share has none.
    this.video.muted = self || screen;
    /** @type {{video: HTMLVideoElement, stream: MediaStream, resolve: (ok: boolean) => void}|null} */
    this.pending = null;

    this.avatar = el('div', 'avatar');
    this.avatar.setAttribute('aria-hidden', 'true');
    this.label = el('div', 'label');
    this.nameEl = el('span', 'name');
    this.micOff = el('span', 'ind mic-off');
    this.micOff.append(slashedIcon(ICONS.micOff));
    this.micOff.title = 'Microphone off';
    this.micOff.setAttribute('role', 'img');
    this.micOff.setAttribute('aria-label', 'microphone off');
    this.camOff = el('span', 'ind cam-off');
    this.camOff.append(slashedIcon(ICONS.camOff));
    this.camOff.title = 'Camera off';
    this.camOff.setAttribute('role', 'img');
    this.camOff.setAttribute('aria-label', 'camera off');
    this.label.append(this.nameEl, this.micOff, this.camOff);
    this.status = el('div', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.el.append(this.video, this.avatar, this.label, this.status);
    this.setName(name);
    this.setMic(true);
    this.setCam(screen);
    this.setState(self ? 'connected' : 'connecting');
  }

  setName(name) {
    this.name = name;
    const shown = this.screen ? `${name} (screen)` : name;
    this.el.dataset.peer = shown;
    let label = shown;
    if (this.self) label = this.screen ? 'Your screen, as others see it' : `${name} (you)`;
    this.nameEl.textContent = label;
    this.avatar.textContent = initials(name);
    this.el.setAttribute('aria-label', label);
  }

  /** setStream shows another MediaStream in this tile (null: none). */
  setStream(stream) {
    if (this.video.srcObject === stream) return;
    this.video.srcObject = stream;
    if (!stream) return;
    this.play();
    if (!this.self && 'requestVideoFrameCallback' in this.video) {
      // A performance mark per first frame: join-to-first-frame, measurable
      // by tests and by anyone with the browser's performance panel.
      const v = this.video;
      v.requestVideoFrameCallback(() => {
        if (v.srcObject === stream) performance.mark('parley:first-frame', { detail: { peer: this.el.dataset.peer } });
      });
    }
  }

  /**
   * prepare loads another stream in a second <video> behind the visible
   * one (muted) and resolves true once it has presented a frame, or at once
   * when wantFrame is false (nothing to wait for: camera off, audio only).
   * It resolves false if it is cancelled or replaced first. commit() then
   * swaps the two, so the picture never goes blank during a move.
   */
  prepare(stream, wantFrame) {
    this.cancelPrepare();
    const video = newVideo();
    video.classList.add('pending');
    video.muted = true;
    video.srcObject = stream;
    this.video.after(video);
    video.play().catch(() => {});
    return new Promise((resolve) => {
      const token = { video, stream, resolve };
      this.pending = token;
      const ready = () => {
        if (this.pending === token) resolve(true);
      };
      if (!wantFrame) ready();
      else if ('requestVideoFrameCallback' in video) onFrames(video, WARM_FRAMES, ready);
      else video.addEventListener('playing', ready, { once: true });
    });
  }

  /** commit makes the prepared stream the visible (and audible) one. */
  commit() {
    const token = this.pending;
    if (!token) return false;
    this.pending = null;
    const old = this.video;
    const video = token.video;
    video.classList.replace('pending', 'live');
    this.video = video;
    video.muted = old.muted;
    old.remove();
    old.srcObject = null;
    if (blockedAudio.delete(old)) blockedAudio.add(video);
    this.play();
    return true;
  }

  /** cancelPrepare drops a prepared stream that was not committed. */
  cancelPrepare() {
    const token = this.pending;
    if (!token) return;
    this.pending = null;
    token.video.remove();
    token.video.srcObject = null;
    token.resolve(false);
  }

  /**
   * setRoles shows small labels after the name ("Moderator", "Viewer";
   * permissions.js roleLabels) and marks the tile data-viewer /
   * data-moderator. DOM hook: `.tile .role[data-role=moderator|viewer]`.
   * @param {string[]} labels
   */
  setRoles(labels) {
    for (const r of this.roleEls ?? []) r.remove();
    this.roleEls = labels.map(roleLabel);
    this.nameEl.after(...this.roleEls);
    for (const role of ['viewer', 'moderator']) {
      if (labels.some((l) => l.toLowerCase() === role)) this.el.dataset[role] = '';
      else delete this.el.dataset[role];
    }
    const extra = labels.length ? `, ${labels.join(', ').toLowerCase()}` : '';
    this.el.setAttribute('aria-label', `${this.nameEl.textContent}${extra}`);
  }

  /** setMenu puts per-tile controls (moderation.js) in the tile, replacing any; null removes them. */
  setMenu(node) {
    this.menu?.remove();
    this.menu = node;
    if (node) {
      this.el.append(node);
      this.el.dataset.menu = '';
    } else {
      delete this.el.dataset.menu;
    }
  }

  /** setSpeaking marks the active speaker (a subtle highlight). */
  setSpeaking(on) {
    if (on) this.el.dataset.speaking = '';
    else delete this.el.dataset.speaking;
  }

  play() {
    const p = this.video.play();
    if (!p) return;
    p.catch((err) => {
      if (err.name !== 'NotAllowedError' || this.video.muted) return;
      // Sound needs a click first: show the picture muted, offer a button.
      this.video.muted = true;
      this.video.play().catch(() => {});
      autoplayBlocked(this.video);
    });
  }

  setMic(on) {
    this.el.dataset.mic = on ? 'on' : 'off';
    this.micOff.hidden = on || this.screen;
  }

  setCam(on) {
    this.el.dataset.cam = on ? 'on' : 'off';
    this.camOff.hidden = on || this.screen;
  }

  setState(state) {
    this.el.dataset.state = state;
    this.status.textContent = STATE_TEXT[state] ?? '';
  }

  /**
   * setE2ee shows the end-to-end encryption lock of a remote tile
   * (docs/e2ee.md): state 'verified' | 'unverified' | 'waiting' | 'refused'
   * | 'failing' | 'off' (an unencrypted room), the room code to compare by
   * voice (shown by pressing the lock) and, when failing, the failed-frame count.
   * DOM hook: `.tile [data-e2ee=STATE]` (the lock button), `.e2ee-code`.
   */
  setE2ee({ state, code = '', failed = 0 }) {
    if (!this.lock) {
      this.lock = el('button', 'e2ee');
      this.lock.type = 'button';
      this.lock.setAttribute('aria-expanded', 'false');
      this.lockCode = el('span', 'e2ee-code');
      this.lockCode.hidden = true;
      this.lockCode.id = `e2ee-code-${this.key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      this.lock.setAttribute('aria-controls', this.lockCode.id);
      this.lock.addEventListener('click', () => {
        const open = this.lockCode.hidden;
        this.lockCode.hidden = !open;
        this.lock.setAttribute('aria-expanded', String(open));
      });
      this.label.prepend(this.lock);
      this.el.append(this.lockCode);
    }
    const who = this.name;
    const text = {
      verified: `End-to-end encrypted; ${who} was admitted with the invite link`,
      unverified: `End-to-end encrypted; ${who} is not verified: compare the room code`,
      waiting: `${who} is not in the encrypted group yet; nothing is shared with them`,
      refused: `${who} is not admitted: could not prove they have the invite link; nothing is sent to them`,
      failing: `End-to-end decryption of ${who} is failing (${failed} frames)`,
      off: 'Not end-to-end encrypted',
    }[state] ?? 'End-to-end encryption';
    this.lock.dataset.e2ee = state;
    this.lock.replaceChildren(lockIcon(state === 'off'));
    this.lock.title = text;
    this.lock.setAttribute('aria-label', `${text}. Show the room code.`);
    this.lockCode.textContent = code ? `Room code (everyone should see the same): ${code}` : 'No room code yet';
  }

  remove() {
    this.cancelPrepare();
    this.video.srcObject = null;
    this.el.remove();
  }
}

/**
 * Grid lays tiles out as large as they can be: it picks the column count
 * that maximises a 16:9 tile's width in the available box, and re-does it
 * when the box or the tile count changes.
 */
export class Grid {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    this.observer = new ResizeObserver(() => this.layout());
    this.observer.observe(root);
  }

  get(key) {
    return this.tiles.get(key);
  }

  add(tile) {
    this.tiles.set(tile.key, tile);
    if (tile.screen) {
      // Screen shares first: they carry the most detail.
      const firstNonScreen = [...this.root.children].find((c) => !c.classList.contains('screen'));
      this.root.insertBefore(tile.el, firstNonScreen ?? null);
    } else {
      this.root.append(tile.el);
    }
    this.layout();
    return tile;
  }

  remove(key) {
    const t = this.tiles.get(key);
    if (!t) return;
    this.tiles.delete(key);
    t.remove();
    this.layout();
  }

  /** clear removes every tile except those kept(tile) says to keep. */
  clear(keep = () => false) {
    for (const [key, t] of [...this.tiles]) if (!keep(t)) this.remove(key);
  }

  layout() {
    const n = this.tiles.size;
    this.root.dataset.count = String(n);
    if (!n) return;
    const style = getComputedStyle(this.root);
    const gap = parseFloat(style.columnGap) || 8;
    const w = this.root.clientWidth - (parseFloat(style.paddingLeft) || 0) - (parseFloat(style.paddingRight) || 0);
    const h = this.root.clientHeight - (parseFloat(style.paddingTop) || 0) - (parseFloat(style.paddingBottom) || 0);
    const { cols, width } = bestLayout(n, w, h, gap);
    this.root.style.setProperty('--cols', String(cols));
    this.root.style.setProperty('--tile-w', `${Math.floor(width)}px`);
  }
}

/**
 * MIN_TILE_W is the narrowest a tile may get: its label must still show
 * the lock, some of the name and the microphone and camera marks.
 */
export const MIN_TILE_W = 144;

/**
 * bestLayout returns the column count and tile width (16:9 tiles) that
 * make n tiles largest inside w×h with gap between them. When they would
 * be narrower than MIN_TILE_W (a large SFU room, a phone), the tiles keep
 * that width across as many columns as fit and the grid scrolls instead.
 */
export function bestLayout(n, w, h, gap = 8, aspect = 16 / 9) {
  let best = { cols: 1, width: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const byWidth = (w - gap * (cols - 1)) / cols;
    const byHeight = ((h - gap * (rows - 1)) / rows) * aspect;
    const width = Math.max(0, Math.min(byWidth, byHeight));
    if (width > best.width + 0.5) best = { cols, width };
  }
  if (best.width >= MIN_TILE_W) return best;
  const cols = Math.max(1, Math.min(n, Math.floor((w + gap) / (MIN_TILE_W + gap))));
  return { cols, width: Math.max(Math.min(w, MIN_TILE_W), (w - gap * (cols - 1)) / cols) };
}

/** Banner: one message at a time in #banner (role=alert). */
let bannerKey = '';
let bannerTimer = 0;

/**
 * showBanner shows text in #banner.
 * @param {string} text
 * @param {{kind?: 'error'|'warn'|'info', key?: string, timeout?: number,
 *          action?: {label: string, run: () => void}}} [opts]
 */
export function showBanner(text, { kind = 'error', key = '', timeout = 0, action = null } = {}) {
  const b = document.getElementById('banner');
  if (!b) return;
  clearTimeout(bannerTimer);
  bannerKey = key;
  b.dataset.kind = kind;
  b.querySelector('.banner-text').textContent = text;
  const btn = /** @type {HTMLButtonElement} */ (b.querySelector('.banner-action'));
  btn.hidden = !action;
  btn.onclick = null;
  if (action) {
    btn.textContent = action.label;
    btn.onclick = () => {
      hideBanner();
      action.run();
    };
  }
  b.hidden = false;
  if (timeout) bannerTimer = setTimeout(() => hideBanner(key), timeout);
}

/** hideBanner hides the banner (only if it still shows `key`, when given). */
export function hideBanner(key) {
  const b = document.getElementById('banner');
  if (!b || (key !== undefined && key !== bannerKey)) return;
  clearTimeout(bannerTimer);
  b.hidden = true;
  bannerKey = '';
}

export function initBanner() {
  const b = document.getElementById('banner');
  b?.querySelector('.banner-close')?.addEventListener('click', () => hideBanner());
}

/** showView shows one of the page's <main> views and hides the others. */
export function showView(id) {
  for (const v of document.querySelectorAll('body > main')) {
    /** @type {HTMLElement} */ (v).hidden = v.id !== id;
  }
}

/** setPressed updates a toggle button's state and its tooltip. */
export function setPressed(button, pressed, title) {
  button.setAttribute('aria-pressed', pressed ? 'true' : 'false');
  if (title) button.title = title;
}

const POLICY_TEXT = { 'mesh-only': 'mesh only', 'sfu-only': 'SFU only' };

/**
 * setModeBadge shows how media travels in the room (#mode): data-mode
 * (mesh/sfu), data-policy (auto/mesh-only/sfu-only) and data-switching
 * while tiles are moving between the two.
 */
export function setModeBadge({ mode, policy, switching }) {
  const badge = document.getElementById('mode');
  if (!badge) return;
  badge.dataset.mode = mode;
  if (policy) badge.dataset.policy = policy;
  if (switching) badge.dataset.switching = 'true';
  else delete badge.dataset.switching;
  const p = POLICY_TEXT[badge.dataset.policy];
  badge.textContent = (mode === 'sfu' ? 'SFU' : 'mesh') + (p ? ` · ${p}` : '');
  badge.title = (mode === 'sfu'
    ? 'Video goes through the server (SFU), still encrypted in transit'
    : 'Video goes directly between browsers (mesh)')
    + (p ? `; an administrator set this room to ${p}` : '')
    + (switching ? '; switching now' : '');
}

/**
 * setRoleNote shows what we are in this call next to the room name
 * (#role-note: "Viewer", "Moderator"), or nothing.
 * @param {string[]} labels
 */
export function setRoleNote(labels) {
  const note = document.getElementById('role-note');
  if (!note) return;
  note.textContent = labels.join(' · ');
  note.hidden = !labels.length;
  note.title = labels.includes('Viewer')
    ? VIEWER_TITLE
    : labels.includes('Moderator') ? 'You are a moderator: you can mute or remove participants from their tile menu' : '';
}

/** setPreflightNote shows (or hides) the quiet note that the SFU is unreachable. */
export function setPreflightNote(failed) {
  const note = document.getElementById('preflight');
  if (note) note.hidden = !failed;
}

/**
 * setUnencrypted marks the call as NOT end-to-end encrypted (docs/e2ee.md
 * "Unencrypted rooms") or takes the mark back: a red note in the header
 * that stays as long as the call (the shared banner can be dismissed or
 * replaced; this cannot), and the chat panel's note, which otherwise says
 * "end-to-end encrypted". The tiles' locks say it per participant.
 * @param {{strip: string, chatNote: string}|null} texts  null: encrypted
 */
export function setUnencrypted(texts) {
  document.body.dataset.e2ee = texts ? 'off' : 'on';
  const strip = document.getElementById('e2ee-off');
  if (strip) {
    strip.textContent = texts?.strip ?? '';
    strip.hidden = !texts;
  }
  const note = /** @type {HTMLElement|null} */ (document.querySelector('#side .side-note'));
  if (!note) return;
  note.dataset.encrypted ??= note.textContent ?? '';
  note.textContent = texts ? texts.chatNote : note.dataset.encrypted;
}
