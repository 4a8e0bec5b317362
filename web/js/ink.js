// @ts-check
// Freehand ink on a shared screen (docs/datachannels.md "Pointer and
// ink"): while the pointer is on, dragging over a shared-screen tile draws
// a stroke that everyone sees at the same spot of the shared content, in
// the drawer's colour; it stays INK_IDLE_MS after its last point, then
// fades out over INK_FADE_MS.
//
// Points are normalised content coordinates (0..1, pointer.js), sent in
// batches on the reliable channel (`ink`: a stroke must arrive whole) at
// most every INK_BATCH_MS; the first batch holds at least two points. InkStrokes is the DOM-free store; InkLayer
// draws it on a <canvas class="ink"> laid over each screen tile.

import { contentRect, fromContent, colorOf } from './screenpos.js';
import { MAX_INK_BATCH } from './envelope.js';

/** A stroke stays this long after its last point… */
export const INK_IDLE_MS = 3000;
/** …then fades out over this long. */
export const INK_FADE_MS = 1000;
/** Points are sent at most this often while drawing. */
export const INK_BATCH_MS = 50;
/** Most points one stroke keeps; later ones are dropped. */
export const INK_MAX_POINTS = 2000;
/** Most live strokes one sender has; the oldest goes first. */
export const INK_MAX_STROKES = 50;

/**
 * InkStrokes holds everybody's live strokes. A stroke is keyed by its
 * drawer and the drawer's stroke id.
 */
export class InkStrokes {
  constructor() {
    /** @type {Map<string, {from: string, screen: string, id: number, pts: number[], last: number}>} */
    this.strokes = new Map();
  }

  /**
   * add appends points (a flat [x, y, x, y, …] array) to from's stroke id
   * on screen; now is the time they arrived.
   */
  add(from, { screen, id, pts }, now) {
    const key = `${from}\n${id}`;
    let s = this.strokes.get(key);
    if (!s) {
      const mine = [...this.strokes.values()].filter((x) => x.from === from);
      if (mine.length >= INK_MAX_STROKES) this.strokes.delete(`${from}\n${mine[0].id}`);
      s = { from, screen, id, pts: [], last: now };
      this.strokes.set(key, s);
    }
    const room = INK_MAX_POINTS * 2 - s.pts.length;
    if (room > 0) s.pts.push(...pts.slice(0, room));
    s.last = now;
    return s;
  }

  /** alpha is a stroke's opacity at now: 1, fading to 0. */
  static alpha(s, now) {
    const t = now - s.last - INK_IDLE_MS;
    return t <= 0 ? 1 : Math.max(0, 1 - t / INK_FADE_MS);
  }

  /** prune forgets faded strokes; returns whether any are left. */
  prune(now) {
    for (const [key, s] of this.strokes) if (InkStrokes.alpha(s, now) === 0) this.strokes.delete(key);
    return this.strokes.size > 0;
  }

  /** on returns the live strokes drawn on one screen. */
  on(screen) {
    return [...this.strokes.values()].filter((s) => s.screen === screen);
  }
}

/**
 * InkLayer draws the strokes on their screen tiles, animating while any
 * are alive.
 */
export class InkLayer {
  /**
   * @param {{screenTile: (screen: string) => HTMLElement|null,
   *          selfId: () => string}} o
   *   screenTile maps a sharer id ('' = our own preview) to its tile.
   */
  constructor({ screenTile, selfId }) {
    this.screenTile = screenTile;
    this.selfId = selfId;
    this.strokes = new InkStrokes();
    this.frame = 0;
  }

  /** add takes points of from's stroke ('' = ours) and redraws. */
  add(from, payload) {
    // A stroke on our own share is drawn on our preview ('').
    const screen = payload.screen === this.selfId() ? '' : payload.screen;
    this.strokes.add(from || this.selfId(), { ...payload, screen }, performance.now());
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    this.frame = 0;
    const now = performance.now();
    const alive = this.strokes.prune(now);
    const screens = new Set([...this.strokes.strokes.values()].map((s) => s.screen));
    for (const canvas of /** @type {NodeListOf<HTMLCanvasElement>} */ (document.querySelectorAll('canvas.ink'))) {
      if (!screens.has(canvas.dataset.screen ?? '')) canvas.remove();
    }
    for (const screen of screens) this.paint(screen, now);
    if (alive) this.schedule();
  }

  /** paint draws one screen's strokes on a canvas over its tile. */
  paint(screen, now) {
    const tile = this.screenTile(screen);
    if (!tile) return;
    let canvas = /** @type {HTMLCanvasElement|null} */ (tile.querySelector(':scope > canvas.ink'));
    if (!canvas) {
      canvas = document.createElement('canvas');
      canvas.className = 'ink';
      canvas.dataset.screen = screen;
      canvas.setAttribute('aria-hidden', 'true');
      tile.append(canvas);
    }
    const tb = tile.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(tb.width * dpr);
    const h = Math.round(tb.height * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, tb.width, tb.height);
    const video = /** @type {HTMLVideoElement|null} */ (tile.querySelector('video.live')) ?? tile.querySelector('video');
    const box = video?.getBoundingClientRect() ?? tb;
    const fit = video && getComputedStyle(video).objectFit === 'cover' ? 'cover' : 'contain';
    const rect = contentRect(video?.videoWidth ?? 0, video?.videoHeight ?? 0, box.width, box.height, fit);
    const strokes = this.strokes.on(screen);
    ctx.lineWidth = 3;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    for (const s of strokes) {
      if (s.pts.length < 4) continue; // one point: a click, shown as a ping
      ctx.globalAlpha = InkStrokes.alpha(s, now);
      ctx.strokeStyle = colorOf(s.from);
      ctx.beginPath();
      for (let i = 0; i < s.pts.length; i += 2) {
        const p = fromContent(s.pts[i], s.pts[i + 1], rect);
        const x = box.left - tb.left + p.x;
        const y = box.top - tb.top + p.y;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    canvas.dataset.strokes = String(strokes.filter((s) => s.pts.length >= 4).length);
  }

  close() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    for (const canvas of /** @type {NodeListOf<HTMLCanvasElement>} */ (document.querySelectorAll('canvas.ink'))) canvas.remove();
  }
}

/**
 * InkPen collects our own stroke's points and sends them in batches:
 * at once for the first point, then at most every INK_BATCH_MS, and the
 * rest when the stroke ends.
 */
export class InkPen {
  /** @param {(payload: {screen: string, id: number, pts: number[]}) => void} send */
  constructor(send) {
    this.send = send;
    this.nextId = 1;
    this.stroke = null; // {screen, id, pending: number[], timer, count}
  }

  /** down starts a stroke on screen (the sharer's id) at (x, y). */
  down(screen, x, y) {
    this.up();
    this.stroke = { screen, id: this.nextId++, pending: [], timer: 0, count: 0 };
    this.move(x, y);
  }

  /** move adds a point to the stroke being drawn, if any. */
  move(x, y) {
    const s = this.stroke;
    if (!s || s.count >= INK_MAX_POINTS) return;
    s.count++;
    s.pending.push(x, y);
    if (s.pending.length >= MAX_INK_BATCH * 2) this.flush();
    else if (!s.timer) s.timer = setTimeout(() => this.flush(), INK_BATCH_MS);
  }

  /** up ends the stroke. */
  up() {
    this.flush();
    this.stroke = null;
  }

  /**
   * flush sends the points not sent yet. A stroke of one point is never
   * sent: it is a click (pointer.js pings it).
   */
  flush() {
    const s = this.stroke;
    if (!s) return;
    clearTimeout(s.timer);
    s.timer = 0;
    if (!s.pending.length || s.count < 2) return;
    const pts = s.pending;
    s.pending = [];
    this.send({ screen: s.screen, id: s.id, pts });
  }
}
