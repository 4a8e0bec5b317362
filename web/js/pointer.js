// @ts-check
// The remote pointer (docs/datachannels.md): while someone shares a
// screen, any viewer can turn on a pointer; moving over the shared-screen
// tile sends where they point as normalised (0..1) coordinates of the shared
// content — not of the tile, so letterboxing and tile sizes do not matter —
// at most POINTER_HZ times a second on the unordered channel. Everyone,
// the sharer included (on their own preview), draws a coloured, named arrow
// at that spot; it fades after POINTER_IDLE_MS; a click draws a ping ring;
// dragging with the button held draws a stroke that fades (ink.js).
//
// DOM hooks: #pointer-toggle (aria-pressed; enabled while someone else
// shares: it stays in place otherwise, so the control bar never shifts
// under the user's mouse when a share starts or stops);
// arrows are .pointer[data-from=ID] inside the screen tile, with
// data-x/data-y (the normalised position) and style left/top in %;
// pings are .ping.

import { contentRect, toContent, fromContent, colorOf } from './screenpos.js';
import { InkLayer, InkPen } from './ink.js';

export { contentRect, toContent, fromContent, colorOf };

/** Largest send rate. */
export const POINTER_HZ = 30;
/** An arrow fades after this long without moving. */
export const POINTER_IDLE_MS = 3000;
/** A ping ring's life (the CSS animation's length). */
const PING_MS = 1200;

/**
 * Pointers wires the toggle, our pointer moves and everybody's arrows.
 */
export class Pointers {
  /**
   * @param {{channels: import('./channels.js').Channels,
   *          screenTile: (sharerId: string) => HTMLElement|null,
   *          sharers: () => string[],
   *          nameOf: (id: string) => string,
   *          selfId: () => string,
   *          signal: AbortSignal}} o
   *   screenTile: '' = our own preview; sharers: ids sharing now, '' = us.
   */
  constructor({ channels, screenTile, sharers, nameOf, selfId, signal }) {
    this.channels = channels;
    this.screenTile = screenTile;
    this.sharers = sharers;
    this.nameOf = nameOf;
    this.selfId = selfId;
    this.on = false;
    this.lastSent = 0;
    this.timer = 0;
    this.queued = null;
    /** @type {Map<string, {el: HTMLElement, fade: number, screen: string}>} arrow per sender and the screen it points at */
    this.arrows = new Map();
    this.btn = /** @type {HTMLButtonElement} */ (document.getElementById('pointer-toggle'));
    const on = (t, type, fn, o = {}) => t.addEventListener(type, fn, { signal, ...o });
    on(this.btn, 'click', () => this.setOn(!this.on));
    const grid = document.getElementById('grid');
    this.ink = new InkLayer({ screenTile, selfId });
    this.pen = new InkPen((payload) => {
      this.ink.add('', payload); // we see our own strokes too
      this.channels.send('ink', payload).catch(() => {});
    });
    on(grid, 'pointermove', (ev) => this.move(ev, false));
    on(grid, 'pointerdown', (ev) => this.move(ev, true));
    on(grid, 'pointerup', () => this.pen.up());
    on(grid, 'pointercancel', () => this.pen.up());
    on(grid, 'pointerleave', () => this.leave());
    on(channels, 'ptr', ({ detail: m }) => this.draw(m.from, m.payload));
    on(channels, 'ptr-off', ({ detail: m }) => this.hide(m.from));
    on(channels, 'ink', ({ detail: m }) => this.ink.add(m.from, m.payload));
    signal.addEventListener('abort', () => this.ink.close());
    this.refresh();
  }

  /** refresh enables the toggle while someone else shares (call it on share changes). */
  refresh() {
    const others = this.sharers().filter((id) => id !== '');
    this.btn.disabled = others.length === 0;
    if (!others.length && this.on) this.setOn(false);
    else if (!this.on) this.btn.title = this.idleTitle();
    for (const [from, a] of this.arrows) if (!a.el.isConnected) this.arrows.delete(from);
  }

  setOn(on) {
    this.on = on;
    if (!on) this.pen.up();
    this.btn.setAttribute('aria-pressed', String(on));
    this.btn.title = on ? 'Stop pointing' : this.idleTitle();
    document.getElementById('grid').dataset.pointing = String(on);
  }

  idleTitle() {
    return this.btn.disabled ? 'Point at a shared screen (nobody else is sharing one)' : 'Point at the shared screen';
  }

  /** target finds the screen tile under an event and whose it is. */
  target(ev) {
    const tile = /** @type {HTMLElement|null} */ (/** @type {HTMLElement} */ (ev.target)?.closest?.('.tile.screen'));
    if (!tile || tile.dataset.self !== undefined) return null;
    const sharer = tile.dataset.peerId;
    if (!sharer) return null;
    return { tile, sharer };
  }

  move(ev, click) {
    if (!this.on) return;
    const t = this.target(ev);
    if (!t) return;
    const video = /** @type {HTMLVideoElement|null} */ (t.tile.querySelector('video.live')) ?? t.tile.querySelector('video');
    if (!video) return;
    const box = video.getBoundingClientRect();
    const fit = getComputedStyle(video).objectFit === 'cover' ? 'cover' : 'contain';
    const rect = contentRect(video.videoWidth, video.videoHeight, box.width, box.height, fit);
    const p = toContent(ev.clientX - box.left, ev.clientY - box.top, rect);
    if (!p) return;
    /** @type {{x: number, y: number, screen: string, click?: boolean}} */
    const payload = { x: round(p.x), y: round(p.y), screen: t.sharer };
    if (click) payload.click = true;
    // Dragging with the button held draws a stroke (ink.js).
    if (click) this.pen.down(t.sharer, payload.x, payload.y);
    else if (ev.buttons & 1) this.pen.move(payload.x, payload.y);
    this.draw('', payload); // we see our own pointer too
    this.sendThrottled(payload, click);
  }

  /** sendThrottled sends at most POINTER_HZ moves a second (clicks at once). */
  sendThrottled(payload, urgent) {
    const gap = 1000 / POINTER_HZ;
    const now = performance.now();
    if (urgent || now - this.lastSent >= gap) {
      clearTimeout(this.timer);
      this.timer = 0;
      this.queued = null;
      this.lastSent = now;
      this.channels.send('ptr', payload).catch(() => {});
      return;
    }
    this.queued = payload;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = 0;
        if (this.queued) this.sendThrottled(this.queued, true);
      }, gap - (now - this.lastSent));
    }
  }

  leave() {
    if (!this.on) return;
    this.pen.up();
    const mine = this.arrows.get('');
    if (!mine) return;
    this.hide('');
    this.channels.send('ptr-off', { screen: mine.screen }).catch(() => {});
  }

  /**
   * draw places from's arrow on the screen tile of the sharer it points at.
   * `screen` is the sharer's id; our own preview shows pointers at us.
   * @param {string} from
   * @param {{x: number, y: number, screen: string, click?: boolean}} p
   */
  draw(from, { x, y, screen, click }) {
    const sharer = screen === this.selfId() ? '' : screen;
    const tile = this.screenTile(sharer);
    if (!tile) return;
    const video = /** @type {HTMLVideoElement|null} */ (tile.querySelector('video.live')) ?? tile.querySelector('video');
    let a = this.arrows.get(from);
    if (!a || !a.el.isConnected || a.el.parentElement !== tile) {
      a?.el.remove();
      const el = document.createElement('div');
      el.className = 'pointer';
      el.dataset.from = from || this.selfId();
      el.style.setProperty('--pointer-color', colorOf(from || this.selfId()));
      const name = document.createElement('span');
      name.className = 'pointer-name';
      name.textContent = from ? this.nameOf(from) : 'You';
      el.append(name);
      tile.append(el);
      a = { el, fade: 0, screen };
      this.arrows.set(from, a);
    }
    a.screen = screen;
    const box = video?.getBoundingClientRect() ?? tile.getBoundingClientRect();
    const tb = tile.getBoundingClientRect();
    const fit = video && getComputedStyle(video).objectFit === 'cover' ? 'cover' : 'contain';
    const rect = contentRect(video?.videoWidth ?? 0, video?.videoHeight ?? 0, box.width, box.height, fit);
    const p = fromContent(x, y, rect);
    const left = box.left - tb.left + p.x;
    const top = box.top - tb.top + p.y;
    a.el.dataset.x = String(x);
    a.el.dataset.y = String(y);
    a.el.style.left = `${(left / tb.width) * 100}%`;
    a.el.style.top = `${(top / tb.height) * 100}%`;
    a.el.classList.remove('faded');
    clearTimeout(a.fade);
    a.fade = setTimeout(() => a.el.classList.add('faded'), POINTER_IDLE_MS);
    if (click) {
      const ring = document.createElement('div');
      ring.className = 'ping';
      ring.style.left = a.el.style.left;
      ring.style.top = a.el.style.top;
      ring.style.setProperty('--pointer-color', colorOf(from || this.selfId()));
      tile.append(ring);
      setTimeout(() => ring.remove(), PING_MS);
    }
    performance.mark('parley:pointer', { detail: { from, x, y } });
  }

  hide(from) {
    const a = this.arrows.get(from);
    if (!a) return;
    clearTimeout(a.fade);
    a.el.classList.add('faded');
  }
}

const round = (v) => Math.round(v * 10000) / 10000;
