// @ts-check
// What this page shows of each video the SFU forwards, reported to the SFU
// so it sends the smallest simulcast layer that fills each tile and no
// video at all for a tile nobody can see (docs/sfu.md `view`).
//
// Per forwarded video track (the ids of the SFU's `tracks` payload, which
// are also the MediaStreamTrack ids of the received tracks) we find the
// <video> elements that show it — whatever made them: tiles, a speaker
// view, a page of the grid — and measure:
//   - the rendered size in device pixels (CSS size × devicePixelRatio,
//     ResizeObserver), the largest of the elements showing it;
//   - whether it can be seen at all: inside the window, the tab not hidden
//     (document.hidden), the element laid out (a tile on another page of
//     the grid, display: none, has no size). A track no element shows is
//     not visible: paged-out tiles get no video. (sfu.js
//     lists only tracks that were shown once: until then the SFU sends the
//     lowest layer, so a new stream can be recognised by its arriving video.)
// The full list is sent when it changes, at most every DEBOUNCE_MS.
//
// Visibility is measured at report time, from the element's rectangle
// against the window (inWindow), never from a remembered observer state:
// an IntersectionObserver's answer about an element arrives a frame after
// it is observed or moved, so a report made meanwhile — a tile that just
// came back from another page, a <video> a move between mesh and SFU just
// created — said "not visible", the SFU paused the track, and the tile
// froze until the next change. The observers only say *when* to measure.
// (An element clipped away by a scrolled container still counts as
// visible: it costs bandwidth, never a frozen tile. The app's grid pages
// rather than scrolls.)
//
// Track ids: the SFU's `tracks` ids are those of the publisher's tracks;
// the receiving MediaStreamTrack may have another id (Firefox makes its
// own, and a reused m-line keeps its first track), so the caller maps a
// received track to the SFU's id (idOf).
//
// DOM-free parts (viewItems, sameView, inWindow) are exported for node tests.

/** Changes are sent at most this often: a window resize fires many events. */
export const DEBOUNCE_MS = 250;
/** The DOM is rescanned this often: a <video>'s srcObject can change without a DOM mutation. */
export const RESCAN_MS = 1000;
/** Sizes are rounded to this many device pixels, so a jittery layout sends nothing. */
export const SIZE_STEP = 8;

/** Priorities (docs/sfu.md `view`): screen shares, then the active speaker, then the rest. */
export const PRIORITY = Object.freeze({ normal: 10, speaker: 50, screen: 100 });

/**
 * @typedef {{track: string, width: number, height: number, visible: boolean, priority: number}} ViewItem
 * @typedef {{width: number, height: number, intersecting: boolean}} Seen  one element showing a track, in CSS px
 */

/**
 * viewItems builds the `view` list from what was measured.
 * @param {Iterable<string>} tracks  the forwarded video track ids
 * @param {Map<string, Seen[]>} seen  track id → the elements showing it
 * @param {{dpr: number, hidden: boolean, priority: (track: string) => number}} env
 * @returns {ViewItem[]}
 */
export function viewItems(tracks, seen, { dpr, hidden, priority }) {
  const round = (v) => Math.round((v * dpr) / SIZE_STEP) * SIZE_STEP;
  return [...tracks].sort().map((track) => {
    let width = 0;
    let height = 0;
    let visible = false;
    for (const s of seen.get(track) ?? []) {
      if (!(s.width > 0 && s.height > 0)) continue;
      width = Math.max(width, round(s.width));
      height = Math.max(height, round(s.height));
      visible ||= s.intersecting;
    }
    visible &&= !hidden && width > 0 && height > 0;
    return { track, width, height, visible, priority: priority(track) };
  });
}

/**
 * inWindow reports whether a rectangle (CSS px, viewport coordinates)
 * overlaps a window of width × height.
 * @param {{left: number, top: number, right: number, bottom: number}} r
 */
export function inWindow(r, width, height) {
  return r.right > 0 && r.bottom > 0 && r.left < width && r.top < height && r.right > r.left && r.bottom > r.top;
}

/** sameView reports whether two `view` lists say the same. */
export function sameView(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return x.track === y.track && x.width === y.width && x.height === y.height &&
      x.visible === y.visible && x.priority === y.priority;
  });
}

export class Viewport {
  /**
   * @param {{send: (items: ViewItem[]) => void,
   *          root?: Document,
   *          priority?: (track: string) => number,
   *          idOf?: (track: MediaStreamTrack) => string}} opts
   *   send: delivers a `view` payload to the SFU.
   *   priority: a track's priority (PRIORITY.*).
   *   idOf: the SFU's id of a received track (default: its own id).
   */
  constructor({ send, root = globalThis.document, priority = () => PRIORITY.normal, idOf = (t) => t.id }) {
    this.send = send;
    this.root = root;
    this.priority = priority;
    this.idOf = idOf;
    /** @type {Set<string>} forwarded video track ids */
    this.tracks = new Set();
    /** @type {Set<Element>} watched <video> elements */
    this.watched = new Set();
    /** @type {ViewItem[]|null} the last list sent */
    this.last = null;
    this.timer = 0;
    this.rescanTimer = 0;
    this.closed = false;
    this.resize = new ResizeObserver(() => this.schedule());
    // Scrolling in or out of view resizes nothing: this one says when.
    this.intersect = new IntersectionObserver(() => this.schedule());
    this.mutations = new MutationObserver(() => this.schedule(true));
    this.mutations.observe(root.body ?? root, { childList: true, subtree: true, attributes: true, attributeFilter: ['class', 'hidden', 'style'] });
    this.onVisibility = () => this.schedule();
    root.addEventListener('visibilitychange', this.onVisibility);
    globalThis.addEventListener?.('resize', this.onVisibility);
    this.rescanTimer = setInterval(() => this.schedule(true), RESCAN_MS);
  }

  /** setTracks says which video tracks the SFU forwards (ids from `tracks`). */
  setTracks(ids) {
    this.tracks = new Set(ids);
    this.schedule(true);
  }

  /** changed asks for a new report soon (a priority changed, a tile moved). */
  changed() {
    this.schedule(true);
  }

  /** schedule measures and sends after DEBOUNCE_MS; rescan also looks for new <video> elements. */
  schedule(rescan = false) {
    if (this.closed) return;
    this.rescanWanted ||= rescan;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      if (this.rescanWanted) this.rescan();
      this.rescanWanted = false;
      this.report();
    }, DEBOUNCE_MS);
  }

  /** rescan starts watching every <video> that shows a forwarded track, and stops watching the rest. */
  rescan() {
    const now = new Set();
    for (const v of this.root.querySelectorAll('video')) {
      if (this.showsForwarded(v)) now.add(v);
    }
    for (const v of [...this.watched]) {
      if (now.has(v)) continue;
      this.resize.unobserve(v);
      this.intersect.unobserve(v);
      this.watched.delete(v);
    }
    for (const v of now) {
      if (this.watched.has(v)) continue;
      this.watched.add(v);
      this.resize.observe(v);
      this.intersect.observe(v);
    }
  }

  /** trackIds returns the video track ids an element shows. */
  trackIds(v) {
    const s = v.srcObject;
    return s && typeof s.getVideoTracks === 'function' ? s.getVideoTracks().map((t) => this.idOf(t)) : [];
  }

  showsForwarded(v) {
    return this.trackIds(v).some((id) => this.tracks.has(id));
  }

  /** report measures every watched element and sends the list if it changed. */
  report() {
    /** @type {Map<string, Seen[]>} */
    const seen = new Map();
    const win = globalThis.document?.documentElement;
    const winW = globalThis.innerWidth || win?.clientWidth || 0;
    const winH = globalThis.innerHeight || win?.clientHeight || 0;
    for (const v of this.watched) {
      if (!v.isConnected) continue;
      const r = v.getBoundingClientRect();
      const intersecting = inWindow(r, winW, winH);
      for (const id of this.trackIds(v)) {
        if (!this.tracks.has(id)) continue;
        if (!seen.has(id)) seen.set(id, []);
        seen.get(id).push({ width: r.width, height: r.height, intersecting });
      }
    }
    const items = viewItems(this.tracks, seen, {
      dpr: globalThis.devicePixelRatio || 1,
      hidden: !!this.root.hidden,
      priority: this.priority,
    });
    if (sameView(items, this.last)) return;
    this.last = items;
    this.send(items);
  }

  /** close stops watching. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.rescanTimer);
    this.resize.disconnect();
    this.intersect.disconnect();
    this.mutations.disconnect();
    this.root.removeEventListener('visibilitychange', this.onVisibility);
    globalThis.removeEventListener?.('resize', this.onVisibility);
    this.watched.clear();
  }
}
