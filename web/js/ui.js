// @ts-check
// DOM pieces of the room page: tiles, the grid that sizes them, the banner,
// the views. No call logic here.

import { VIEWER_TITLE } from './permissions.js';
import { computeLayout, MODES, CORNERS } from './layout.js';

export { bestLayout, MIN_TILE_W } from './layout.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

const ICONS = {
  micOff: 'M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11z',
  camOff: 'M4 6h11a2 2 0 0 1 2 2v2.5l4-3v9l-4-3V16a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z',
  pin: 'M16 3l5 5-2 1-3 3 .5 5.5L15 19l-4-4-5 5-1-1 5-5-4-4 1.5-1.5L13 9l3-3z',
  fullscreen: 'M4 4h6v2H6v4H4zm10 0h6v6h-2V6h-4zM4 14h2v4h4v2H4zm14 0h2v6h-6v-2h4z',
  move: 'M12 2l3 3h-2v4h4V7l3 3-3 3v-2h-4v4h2l-3 3-3-3h2v-4H7v2l-3-3 3-3v2h4V5H9z',
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
    /** @type {Grid|undefined} the grid showing this tile (Grid.add sets it) */
    this.grid;
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
    this.actions = this.tileActions();
    this.el.append(this.video, this.avatar, this.label, this.status, this.actions);
    this.setName(name);
    this.setMic(true);
    this.setCam(screen);
    this.setState(self ? 'connected' : 'connecting');
  }

  /**
   * tileActions builds the tile's own buttons (top left, shown on hover and
   * focus): pin to the stage, fullscreen and, on our own camera tile, move
   * the picture in picture to the next corner. The Grid they act on is the
   * one the tile was added to (Grid.add sets tile.grid).
   */
  tileActions() {
    const box = el('div', 'tile-actions');
    const button = (cls, path, fn) => {
      const b = el('button', cls);
      b.type = 'button';
      b.append(icon(svgEl('path', { d: path, fill: 'currentColor' })));
      b.addEventListener('click', fn);
      box.append(b);
      return b;
    };
    this.pinBtn = button('pin', ICONS.pin, () => this.grid?.pin(this.key));
    this.pinBtn.setAttribute('aria-pressed', 'false');
    this.fullBtn = button('fullscreen', ICONS.fullscreen, () => this.toggleFullscreen());
    if (!document.fullscreenEnabled) this.fullBtn.hidden = true;
    if (this.self && !this.screen) this.moveBtn = button('move', ICONS.move, () => this.grid?.nextPipCorner());
    return box;
  }

  /** labelActions names the tile's buttons after the participant. */
  labelActions(label) {
    const pinned = this.pinBtn.getAttribute('aria-pressed') === 'true';
    this.pinBtn.setAttribute('aria-label', `${pinned ? 'Unpin' : 'Pin'} ${label}`);
    this.pinBtn.title = pinned ? 'Unpin: back to the layout' : 'Pin to the stage';
    this.fullBtn.setAttribute('aria-label', `Fullscreen ${label}`);
    this.fullBtn.title = 'Fullscreen (Esc to leave)';
    if (this.moveBtn) {
      this.moveBtn.setAttribute('aria-label', 'Move your picture to the next corner');
      this.moveBtn.title = 'Move your picture (or drag it)';
    }
  }

  /** setPinned shows whether this tile is pinned to the stage. */
  setPinned(on) {
    if ((this.pinBtn.getAttribute('aria-pressed') === 'true') === on) return;
    this.pinBtn.setAttribute('aria-pressed', String(on));
    if (on) this.el.dataset.pinned = '';
    else delete this.el.dataset.pinned;
    this.labelActions(this.nameEl.textContent);
  }

  toggleFullscreen() {
    if (document.fullscreenElement === this.el) document.exitFullscreen().catch(() => {});
    else this.el.requestFullscreen?.().catch(() => {});
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
    this.labelActions(label);
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
      else if (typeof video.requestVideoFrameCallback === 'function') onFrames(video, WARM_FRAMES, ready);
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

  /**
   * setSpeaking marks a tile whose participant is talking now
   * (speaking.js, every mode): a green outline and data-speaking.
   */
  setSpeaking(on) {
    if (on === ('speaking' in this.el.dataset)) return;
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
    this.lockState = { state, failed };
    this.renderLock();
    this.lockCode.textContent = code ? `Room code (everyone should see the same): ${code}` : 'No room code yet';
  }

  /**
   * setNoMedia tells the lock whether this participant's picture and sound
   * arrive (mediastate.js): text is the sentence saying they do not, '' if
   * they do. A verified lock over media that does not flow looks and reads
   * "keys verified — no media yet", never plain verified (docs/e2ee.md).
   * DOM hook: `.tile .e2ee[data-media=none]`.
   */
  setNoMedia(text) {
    if ((this.noMedia ?? '') === text) return;
    this.noMedia = text;
    this.renderLock();
  }

  /** renderLock writes the lock's look, tooltip and label from its state and the media's. */
  renderLock() {
    if (!this.lock || !this.lockState) return;
    const { state, failed } = this.lockState;
    const who = this.name;
    let text = {
      verified: `End-to-end encrypted; ${who} was admitted with the invite link`,
      unverified: `End-to-end encrypted; ${who} is not verified: compare the room code`,
      waiting: `${who} is not in the encrypted group yet; nothing is shared with them`,
      refused: `${who} is not admitted: could not prove they have the invite link; nothing is sent to them`,
      failing: `End-to-end decryption of ${who} is failing (${failed} frames)`,
      off: 'Not end-to-end encrypted',
    }[state] ?? 'End-to-end encryption';
    if (this.noMedia) {
      if (state === 'verified') text = `Keys verified — no media yet: ${this.noMedia}`;
      else text = `${text}. ${this.noMedia}`;
      this.lock.dataset.media = 'none';
    } else {
      delete this.lock.dataset.media;
    }
    this.lock.dataset.e2ee = state;
    this.lock.replaceChildren(lockIcon(state === 'off'));
    this.lock.title = text;
    this.lock.setAttribute('aria-label', `${text}. Show the room code.`);
  }

  remove() {
    this.cancelPrepare();
    this.video.srcObject = null;
    this.el.remove();
  }
}

/** Where our own picture in picture sits, remembered across calls. */
const PIP_KEY = 'parley.pip';
/** The layout mode, remembered across calls. */
export const LAYOUT_KEY = 'parley.layout';

function stored(key) {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* not remembered: fine */
  }
}

/**
 * Grid places the call's tiles with layout.js: it feeds computeLayout the
 * tiles (screens, pins, the active speaker), the box and the chosen mode,
 * positions each tile from the result, and re-does it when any of them
 * change. Every result is also dispatched as a `layout` event (detail: the
 * Layout of layout.js, plus `width` and `height` of the box) and kept in
 * `last`, for the parts that follow what is on screen (pagination, which
 * video layer to ask for). The Grid owns mode, pinned, speaker, page and
 * pipCorner; set them through its methods.
 */
export class Grid extends EventTarget {
  /** @param {HTMLElement} root */
  constructor(root) {
    super();
    this.root = root;
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    /** @type {string} 'stage' | 'speaker' | 'grid' (layout.js MODES) */
    this.mode = MODES.includes(stored(LAYOUT_KEY)) ? stored(LAYOUT_KEY) : 'stage';
    this.pinned = '';
    this.speaker = '';
    this.page = 0;
    this.pipCorner = CORNERS.includes(stored(PIP_KEY)) ? stored(PIP_KEY) : 'bottom-right';
    /** @type {import('./layout.js').Layout|null} */
    this.last = null;
    this.pager = pagerEl(() => this.setPage(this.page - 1), () => this.setPage(this.page + 1));
    root.append(this.pager.el);
    this.observer = new ResizeObserver(() => this.layout());
    this.observer.observe(root);
    this.dragPip();
  }

  get(key) {
    return this.tiles.get(key);
  }

  add(tile) {
    this.tiles.set(tile.key, tile);
    tile.grid = this;
    if (tile.screen) {
      // Screen shares first: they carry the most detail.
      const firstNonScreen = [...this.root.children].find((c) => c.classList.contains('tile') && !c.classList.contains('screen'));
      this.root.insertBefore(tile.el, firstNonScreen ?? this.pager.el);
    } else {
      this.root.insertBefore(tile.el, this.pager.el);
    }
    this.layout();
    return tile;
  }

  remove(key) {
    const t = this.tiles.get(key);
    if (!t) return;
    this.tiles.delete(key);
    if (this.pinned === key) this.pinned = '';
    t.remove();
    this.layout();
  }

  /** clear removes every tile except those kept(tile) says to keep. */
  /** @param {(t: Tile) => boolean} [keep] */
  clear(keep = () => false) {
    for (const [key, t] of [...this.tiles]) if (!keep(t)) this.remove(key);
  }

  /** setMode chooses the layout ('stage', 'speaker', 'grid') and remembers it. */
  setMode(mode) {
    if (!MODES.includes(mode)) return;
    this.mode = mode;
    store(LAYOUT_KEY, mode);
    this.layout();
  }

  /** pin puts a tile on the stage ('' or the pinned tile again: unpin). */
  pin(key) {
    this.pinned = key && key !== this.pinned && this.tiles.has(key) ? key : '';
    this.layout();
  }

  /** setSpeaker tells the speaker layout who talks ('' nobody); it does not mark tiles. */
  setSpeaker(key) {
    if (this.speaker === key) return;
    this.speaker = key;
    if (this.mode === 'speaker') this.layout();
  }

  setPage(page) {
    this.page = Math.max(0, page);
    this.layout();
  }

  /** setPipCorner moves our own picture in picture to a corner (layout.js CORNERS) and remembers it. */
  setPipCorner(corner) {
    if (!CORNERS.includes(corner)) return;
    this.pipCorner = corner;
    store(PIP_KEY, corner);
    this.layout();
  }

  layout() {
    const n = this.tiles.size;
    this.root.dataset.count = String(n);
    this.root.dataset.layout = this.mode;
    const style = getComputedStyle(this.root);
    const gap = parseFloat(style.columnGap) || 8;
    const padL = parseFloat(style.paddingLeft) || 0;
    const padT = parseFloat(style.paddingTop) || 0;
    const w = this.root.clientWidth - padL - (parseFloat(style.paddingRight) || 0);
    const h = this.root.clientHeight - padT - (parseFloat(style.paddingBottom) || 0);
    const byEl = new Map([...this.tiles.values()].map((t) => [t.el, t]));
    /** @type {import('./layout.js').LayoutTile[]} */
    const tiles = [...this.root.querySelectorAll(':scope > .tile')]
      .map((e) => byEl.get(e))
      .filter(Boolean)
      .map((t) => ({
        id: t.key,
        kind: t.screen ? 'screen' : t.self ? 'self' : 'camera',
        pinned: t.key === this.pinned,
        speaking: t.key === this.speaker,
      }));
    const out = computeLayout({ tiles, width: w, height: h, mode: this.mode, page: this.page, gap, pipCorner: this.pipCorner });
    this.page = out.page;
    this.last = out;
    for (const p of out.placed) {
      const t = this.tiles.get(p.id);
      if (!t) continue;
      t.el.hidden = false;
      Object.assign(t.el.style, {
        left: `${Math.round(padL + p.x)}px`, top: `${Math.round(padT + p.y)}px`,
        width: `${Math.floor(p.w)}px`, height: `${Math.floor(p.h)}px`,
      });
      t.el.style.setProperty('--tile-w', `${Math.floor(p.w)}px`);
      t.el.dataset.layout = p.role;
      t.setPinned(p.id === this.pinned);
    }
    for (const id of out.hidden) {
      const t = this.tiles.get(id);
      if (t) t.el.hidden = true;
    }
    this.root.dataset.stage = out.stage ? 'true' : 'false';
    this.pager.show(out.page, out.pages);
    this.dispatchEvent(new CustomEvent('layout', { detail: { ...out, width: w, height: h } }));
  }

  /**
   * dragPip lets our own picture in picture be dragged (mouse, pen, touch)
   * to another corner: it follows the pointer and lands in the nearest one.
   * Its "move" button (Tile) does the same from the keyboard.
   */
  dragPip() {
    let drag = null;
    this.root.addEventListener('pointerdown', (ev) => {
      const el = /** @type {HTMLElement|null} */ (/** @type {HTMLElement} */ (ev.target).closest?.('.tile[data-layout="pip"]'));
      if (!el || /** @type {HTMLElement} */ (ev.target).closest('button')) return;
      drag = { el, dx: ev.clientX - el.offsetLeft, dy: ev.clientY - el.offsetTop, id: ev.pointerId };
      el.setPointerCapture(ev.pointerId);
      el.dataset.dragging = '';
    });
    this.root.addEventListener('pointermove', (ev) => {
      if (!drag || ev.pointerId !== drag.id) return;
      drag.el.style.left = `${ev.clientX - drag.dx}px`;
      drag.el.style.top = `${ev.clientY - drag.dy}px`;
    });
    const drop = (ev) => {
      if (!drag || ev.pointerId !== drag.id) return;
      const { el } = drag;
      drag = null;
      delete el.dataset.dragging;
      const midX = el.offsetLeft + el.offsetWidth / 2 < this.root.clientWidth / 2;
      const midY = el.offsetTop + el.offsetHeight / 2 < this.root.clientHeight / 2;
      this.setPipCorner(`${midY ? 'top' : 'bottom'}-${midX ? 'left' : 'right'}`);
    };
    this.root.addEventListener('pointerup', drop);
    this.root.addEventListener('pointercancel', drop);
  }

  /** nextPipCorner moves our picture in picture to the next corner, clockwise. */
  nextPipCorner() {
    this.setPipCorner(CORNERS[(CORNERS.indexOf(this.pipCorner) + 1) % CORNERS.length]);
  }
}

/** pagerEl builds the page buttons shown when the tiles do not fit on one page. */
function pagerEl(prev, next) {
  const box = el('div', 'pager');
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', 'Pages of participants');
  const back = el('button', 'pager-prev', 'Previous');
  const text = el('span', 'pager-text');
  const fwd = el('button', 'pager-next', 'Next');
  for (const b of [back, fwd]) b.type = 'button';
  back.addEventListener('click', prev);
  fwd.addEventListener('click', next);
  box.append(back, text, fwd);
  box.hidden = true;
  return {
    el: box,
    show(page, pages) {
      box.hidden = pages < 2;
      text.textContent = `Page ${page + 1} of ${pages}`;
      back.disabled = page === 0;
      fwd.disabled = page >= pages - 1;
    },
  };
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

const POLICY_TEXT = { 'mesh-only': 'always direct', 'sfu-only': 'always via server' };

/**
 * setModeBadge shows how media travels in the room (#mode), in plain words:
 * "direct" (mesh: browser to browser) or "via server" (SFU), with a
 * tooltip (and accessible description) saying what that means for
 * privacy. Attributes for tests and styles: data-mode (mesh/sfu),
 * data-policy (auto/mesh-only/sfu-only), data-switching while tiles move.
 */
export function setModeBadge({ mode, policy, switching }) {
  const badge = document.getElementById('mode');
  if (!badge) return;
  badge.dataset.mode = mode;
  if (policy) badge.dataset.policy = policy;
  if (switching) badge.dataset.switching = 'true';
  else delete badge.dataset.switching;
  const p = POLICY_TEXT[badge.dataset.policy];
  badge.textContent = (mode === 'sfu' ? 'via server' : 'direct') + (p ? ` · ${p}` : '');
  badge.title = (mode === 'sfu'
    ? 'Via server: video and sound pass through this Parley server, which forwards them; while the tiles show a closed lock they are end-to-end encrypted and the server cannot see or hear them'
    : 'Direct: video and sound go straight between the browsers in this call, not through the server')
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
