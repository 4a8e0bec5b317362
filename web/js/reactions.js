// @ts-check
// Reactions and raised hands (docs/datachannels.md): an emoji bar whose
// picks float up from the sender's tile for everyone, and a hand that
// shows on the tile and in the participant list, in order of raising.
//
// Rate limits, both ends: a sender may react REACT_BURST times at once and
// then once per REACT_REFILL_MS (the button says so); a receiver applies the
// same bucket per sender and ignores the excess, so a modified client cannot
// flood anyone's screen.
//
// DOM hooks: #react-toggle (aria-expanded) opens #reactions (buttons
// .react[data-emoji]); a reaction shows as .reaction[data-emoji] inside the
// sender's .tile for REACT_SHOW_MS; #hand-toggle (aria-pressed); a raised
// hand is .tile[data-hand="N"] (N: order of raising) and
// #people li[data-peer-id][data-hand="N"].

import { EMOJI } from './envelope.js';
import { roleLabel } from './ui.js';
import { toast } from './toasts.js';

export const REACT_BURST = 3;
export const REACT_REFILL_MS = 1000;
/** How long a reaction floats on a tile (the CSS animation's length). */
export const REACT_SHOW_MS = 2500;

/**
 * RateLimiter is a token bucket per key (DOM-free).
 */
export class RateLimiter {
  constructor({ burst = REACT_BURST, refillMs = REACT_REFILL_MS, now = () => Date.now() } = {}) {
    this.burst = burst;
    this.refillMs = refillMs;
    this.now = now;
    /** @type {Map<string, {tokens: number, at: number}>} */
    this.buckets = new Map();
  }

  /** take spends one token of key; false when the key is over its rate. */
  take(key) {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + (t - b.at) / this.refillMs);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/**
 * HandQueue keeps raised hands in the order they were raised (DOM-free).
 */
export class HandQueue {
  constructor() {
    /** @type {Map<string, number>} id → when raised (our clock; insertion order is the order) */
    this.up = new Map();
  }

  set(id, up) {
    if (up && !this.up.has(id)) this.up.set(id, Date.now());
    else if (!up) this.up.delete(id);
  }

  /** position returns 1-based order of raising, or 0. */
  position(id) {
    let i = 0;
    for (const k of this.up.keys()) {
      i++;
      if (k === id) return i;
    }
    return 0;
  }

  ids() {
    return [...this.up.keys()];
  }
}

/**
 * Reactions wires the emoji bar, the hand button, tiles and the people list.
 */
export class Reactions {
  /**
   * @param {{channels: import('./channels.js').Channels,
   *          tileOf: (id: string) => HTMLElement|null,
   *          people: () => {id: string, name: string}[],
   *          selfName: () => string,
   *          rolesOf?: (id: string) => string[],
   *          signal: AbortSignal}} o
   *   tileOf and rolesOf: '' = ours.
   *   rolesOf: labels shown after a name in the list ("Moderator", "Viewer").
   */
  constructor({ channels, tileOf, people, selfName, rolesOf = () => [], signal }) {
    this.channels = channels;
    this.rolesOf = rolesOf;
    this.tileOf = tileOf;
    this.people = people;
    this.selfName = selfName;
    this.sendLimit = new RateLimiter();
    this.recvLimit = new RateLimiter();
    this.hands = new HandQueue();
    this.mine = false;
    const $ = (id) => document.getElementById(id);
    this.bar = $('reactions');
    this.barBtn = $('react-toggle');
    this.handBtn = $('hand-toggle');
    this.list = $('people');
    const on = (t, type, fn) => t.addEventListener(type, fn, { signal });
    this.bar.replaceChildren(...EMOJI.map((e) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'react';
      b.dataset.emoji = e;
      b.textContent = e;
      b.setAttribute('aria-label', `React with ${e}`);
      return b;
    }));
    on(this.barBtn, 'click', () => this.showBar(this.bar.hidden));
    on(this.bar, 'click', (ev) => {
      const b = /** @type {HTMLElement|null} */ (/** @type {HTMLElement} */ (ev.target).closest?.('.react'));
      if (!b) return;
      this.react(b.dataset.emoji);
      // One pick is the usual: the bar closes so it does not sit over the tiles.
      this.showBar(false);
      this.barBtn.focus();
    });
    on(this.bar, 'keydown', (ev) => {
      if (ev.key === 'Escape') {
        this.showBar(false);
        this.barBtn.focus();
      }
    });
    on(document, 'pointerdown', (ev) => {
      if (!this.bar.hidden && !/** @type {HTMLElement} */ (ev.target).closest?.('.react-wrap')) this.showBar(false);
    });
    on(this.handBtn, 'click', () => this.setHand(!this.mine));
    on(channels, 'react', ({ detail: m }) => {
      if (this.recvLimit.take(m.from)) this.show(m.from, m.payload.emoji);
    });
    on(channels, 'hand', ({ detail: m }) => {
      if (m.payload.up && !this.hands.position(m.from)) toast(`${this.nameOf(m.from)} raised a hand`, { kind: 'hand' });
      this.hands.set(m.from, m.payload.up);
      this.render();
    });
    this.showBar(false);
    this.render();
  }

  showBar(open) {
    this.bar.hidden = !open;
    this.barBtn.setAttribute('aria-expanded', String(open));
    if (open) this.bar.querySelector('button')?.focus();
  }

  /** react sends a reaction (rate-limited) and shows it on our own tile. */
  react(emoji) {
    if (!EMOJI.includes(emoji)) return;
    if (!this.sendLimit.take('self')) {
      this.barBtn.title = 'Slow down a little';
      return;
    }
    this.barBtn.title = 'React';
    this.show('', emoji);
    this.channels.send('react', { emoji }).catch((err) => console.warn('parley: reaction not sent:', err.message));
  }

  /** show floats an emoji on a tile ('' = ours). */
  show(id, emoji) {
    const tile = this.tileOf(id);
    if (!tile) return;
    const r = document.createElement('span');
    r.className = 'reaction';
    r.dataset.emoji = emoji;
    r.textContent = emoji;
    r.setAttribute('role', 'img');
    r.setAttribute('aria-label', `${id ? this.nameOf(id) : 'You'} reacted ${emoji}`);
    r.style.setProperty('--drift', `${Math.round(Math.random() * 40 - 20)}px`);
    tile.append(r);
    setTimeout(() => r.remove(), REACT_SHOW_MS);
  }

  nameOf(id) {
    return this.people().find((p) => p.id === id)?.name ?? 'Guest';
  }

  /** setHand raises or lowers our hand. */
  setHand(up) {
    this.mine = up;
    this.hands.set('', up);
    this.handBtn.setAttribute('aria-pressed', String(up));
    this.handBtn.title = up ? 'Lower your hand' : 'Raise your hand';
    this.render();
    this.channels.send('hand', { up }).catch((err) => console.warn('parley: hand not sent:', err.message));
  }

  /** greet tells a newcomer our hand is up (they missed it). */
  greet(id) {
    if (this.mine) this.channels.send('hand', { up: true }, { to: id }).catch(() => {});
  }

  /** forget drops someone who left. */
  forget(id) {
    this.hands.set(id, false);
    this.render();
  }

  /** render marks tiles and rebuilds the participant list. */
  render() {
    const everyone = [{ id: '', name: `${this.selfName()} (you)` }, ...this.people()];
    for (const p of everyone) {
      const tile = this.tileOf(p.id);
      const pos = this.hands.position(p.id);
      if (!tile) continue;
      if (pos) tile.dataset.hand = String(pos);
      else delete tile.dataset.hand;
    }
    // Raised hands first, in order of raising; then everybody else.
    const order = [...everyone].sort((a, b) => {
      const pa = this.hands.position(a.id) || Infinity;
      const pb = this.hands.position(b.id) || Infinity;
      return pa - pb;
    });
    this.list.replaceChildren(...order.map((p) => {
      const li = document.createElement('li');
      li.dataset.peerId = p.id;
      const pos = this.hands.position(p.id);
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = p.name;
      li.append(name);
      li.append(...this.rolesOf(p.id).map(roleLabel));
      if (pos) {
        li.dataset.hand = String(pos);
        const h = document.createElement('span');
        h.className = 'hand';
        h.textContent = `✋ ${pos}`;
        h.setAttribute('aria-label', `hand raised, ${ordinal(pos)}`);
        li.append(h);
      }
      return li;
    }));
  }
}

function ordinal(n) {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}
