// @ts-check
// Where every tile of the call goes (DOM-free): one pure function,
// computeLayout, from the tiles, the box they share and the chosen mode to
// the rectangle of each tile on screen. ui.js (Grid) applies its output;
// anyone who needs to know what is on screen and how large (pagination,
// per-tile video layer requests) reads the same output from the Grid's
// `layout` event, so what is requested always matches what is shown.
//
// Modes (the person's choice, remembered by the page):
//   'stage'   (default) a pinned tile, else the newest screen share, takes
//             the stage and everyone else is in a strip; with neither, a grid.
//   'speaker' the stage holds the pinned tile, else a screen share, else the
//             active speaker (tiles[].speaking), else the first other person.
//   'grid'    everyone the same size; only a pin makes a stage.
// In a grid with one other person or none, our own camera is a small
// picture in picture in a corner the person chooses, not a tile of its own.

/** The tiles' shape: cameras and screens are shown 16:9 (screens letterboxed inside). */
export const ASPECT = 16 / 9;

/**
 * MIN_TILE_W is the narrowest a tile may get: its label must still show
 * the lock, some of the name and the microphone and camera marks. Below
 * it, tiles go to further pages instead of shrinking.
 */
export const MIN_TILE_W = 144;

/** The strip beside a stage (landscape) takes this share of the width, within the bounds below. */
const STRIP_SHARE = 0.2;
/** A strip tile narrower than this would show a face too small to recognise. */
const STRIP_MIN_W = 160;
/** A strip wider than this steals from the stage without showing more. */
const STRIP_MAX_W = 300;
/** Portrait boxes give the stage at most this share of the height: the strip needs the rest. */
const STAGE_MAX_SHARE = 0.62;
/** Our own picture-in-picture is this share of the box's width, within the bounds below. */
const PIP_SHARE = 0.2;
/** Smaller than this and we cannot see whether we are in frame. */
const PIP_MIN_W = 112;
/** Larger than this and it hides too much of the other person. */
const PIP_MAX_W = 240;
/** The picture in picture keeps this far from the box's edges. */
const PIP_MARGIN = 8;
/** A box wider than this ratio puts the strip beside the stage, otherwise below it. */
const LANDSCAPE = 1.15;

export const MODES = Object.freeze(['stage', 'speaker', 'grid']);
export const CORNERS = Object.freeze(['bottom-right', 'bottom-left', 'top-left', 'top-right']);

/**
 * @typedef {{id: string, kind: 'camera'|'screen'|'self', speaking?: boolean,
 *            pinned?: boolean, priority?: number}} LayoutTile
 *   kind 'self' is our own camera; our own screen share is a 'screen'.
 *   speaking: the active speaker (the speaker mode stages it).
 *   priority: higher comes first in the grid and the strip (default 0).
 * @typedef {{id: string, x: number, y: number, w: number, h: number,
 *            role: 'stage'|'strip'|'grid'|'pip'}} Placed
 * @typedef {{mode: string, stage: string|null, placed: Placed[], hidden: string[],
 *            page: number, pages: number, perPage: number}} Layout
 *   mode: the mode asked for; stage: the staged tile's id or null;
 *   placed: the tiles on screen with their rectangles (px, from the box's
 *   top left) in reading order; hidden: the tiles on other pages; page
 *   (0-based, clamped) and pages; perPage: how many grid or strip tiles fit
 *   on one page.
 */

/**
 * computeLayout places tiles in a box of width × height.
 * @param {{tiles: LayoutTile[], width: number, height: number, mode?: string,
 *          page?: number, gap?: number, pipCorner?: string}} o
 * @returns {Layout}
 */
export function computeLayout({ tiles, width, height, mode = 'stage', page = 0, gap = 8, pipCorner = 'bottom-right' }) {
  const w = Math.max(0, width);
  const h = Math.max(0, height);
  if (!MODES.includes(mode)) mode = 'stage';
  const ordered = order(tiles);
  const staged = stageOf(ordered, mode);
  const empty = { mode, stage: null, placed: [], hidden: [], page: 0, pages: 1, perPage: 0 };
  if (!ordered.length || !w || !h) return { ...empty, hidden: ordered.map((t) => t.id) };
  if (staged) return stageLayout(ordered, staged, w, h, gap, page, mode);
  return gridLayout(ordered, w, h, gap, page, mode, pipCorner);
}

/** order puts screens first, then higher priority; otherwise keeps the given order. */
function order(tiles) {
  const rank = (t) => (t.kind === 'screen' ? 1e9 : 0) + (t.priority ?? 0);
  return tiles.map((t, i) => ({ t, i }))
    .sort((a, b) => rank(b.t) - rank(a.t) || a.i - b.i)
    .map(({ t }) => t);
}

/** stageOf picks the staged tile for a mode, or null for a plain grid. */
function stageOf(tiles, mode) {
  const pinned = tiles.find((t) => t.pinned);
  if (pinned) return pinned;
  if (mode === 'grid' || tiles.length < 2) return null;
  // The newest share: screens come first in order, the last added last among them.
  const screens = tiles.filter((t) => t.kind === 'screen');
  const remoteScreen = screens.filter((t) => !t.id.startsWith('self')).at(-1);
  const screen = remoteScreen ?? screens.at(-1);
  if (screen) return screen;
  if (mode === 'stage') return null;
  return tiles.find((t) => t.speaking && t.kind !== 'self')
    ?? tiles.find((t) => t.kind === 'camera')
    ?? null;
}

/** fit returns the largest ASPECT rectangle inside w × h, centred. */
function fit(x, y, w, h) {
  const fw = Math.min(w, h * ASPECT);
  const fh = fw / ASPECT;
  return { x: x + (w - fw) / 2, y: y + (h - fh) / 2, w: fw, h: fh };
}

/** paginate cuts list into pages of perPage and returns the page's slice. */
function paginate(list, perPage, page) {
  const per = Math.max(1, perPage);
  const pages = Math.max(1, Math.ceil(list.length / per));
  const p = Math.min(Math.max(0, Math.floor(page) || 0), pages - 1);
  return { shown: list.slice(p * per, (p + 1) * per), rest: [...list.slice(0, p * per), ...list.slice((p + 1) * per)], page: p, pages, per };
}

/**
 * bestLayout returns the column count and tile width (16:9 tiles) that
 * make n tiles largest inside w×h with gap between them. When they would
 * be narrower than MIN_TILE_W, the tiles keep that width across as many
 * columns as fit (the caller pages the rest).
 */
export function bestLayout(n, w, h, gap = 8, aspect = ASPECT) {
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

/** capacity is how many tiles of at least MIN_TILE_W fit in w × h. */
function capacity(w, h, gap) {
  const cols = Math.max(1, Math.floor((w + gap) / (MIN_TILE_W + gap)));
  const rows = Math.max(1, Math.floor((h + gap) / (MIN_TILE_W / ASPECT + gap)));
  return cols * rows;
}

/** cells places n tiles in a centred grid in the box (x, y, w, h). */
function cells(list, x, y, w, h, gap, role, maxW = Infinity) {
  const n = list.length;
  if (!n) return [];
  const { cols } = bestLayout(n, w, h, gap);
  const rows = Math.ceil(n / cols);
  const tw = Math.min(maxW, (w - gap * (cols - 1)) / cols, ((h - gap * (rows - 1)) / rows) * ASPECT);
  const th = tw / ASPECT;
  const top = y + (h - (rows * th + (rows - 1) * gap)) / 2;
  return list.map((t, i) => {
    const r = Math.floor(i / cols);
    const inRow = r === rows - 1 ? n - r * cols : cols; // a last, partly filled row is centred
    const left = x + (w - (inRow * tw + (inRow - 1) * gap)) / 2;
    return { id: t.id, x: left + (i % cols) * (tw + gap), y: top + r * (th + gap), w: tw, h: th, role };
  });
}

function gridLayout(tiles, w, h, gap, page, mode, pipCorner) {
  const self = tiles.find((t) => t.kind === 'self');
  const people = tiles.filter((t) => t.kind !== 'screen').length;
  // Fewer than three people and nothing else: we see ourselves in a corner.
  const pip = self && people < 3 && tiles.length === 2 ? self : null;
  const rest = pip ? tiles.filter((t) => t !== pip) : tiles;
  const pg = paginate(rest, capacity(w, h, gap), page);
  if (!pip) {
    const placed = cells(pg.shown, 0, 0, w, h, gap, 'grid');
    return { mode, stage: null, placed, hidden: pg.rest.map((t) => t.id), page: pg.page, pages: pg.pages, perPage: pg.per };
  }
  // The other person's tile keeps clear of our picture (its corner holds
  // their name, hand or moderation menu): it gives up a column beside the
  // picture in a wide box, a row above or below it in a tall one.
  const p = pipRect(pip.id, w, h, pipCorner);
  let box = { x: 0, y: 0, w, h };
  if (w / h > ASPECT) {
    const cut = p.w + gap;
    box = { x: p.x < w / 2 ? cut : 0, y: 0, w: w - cut, h };
  } else {
    const cut = p.h + gap;
    box = { x: 0, y: p.y < h / 2 ? cut : 0, w, h: h - cut };
  }
  const placed = cells(pg.shown, box.x, box.y, box.w, box.h, gap, 'grid');
  placed.push(p);
  return { mode, stage: null, placed, hidden: pg.rest.map((t) => t.id), page: pg.page, pages: pg.pages, perPage: pg.per };
}

/** pipRect is our own small picture in a corner of the box. */
function pipRect(id, w, h, corner) {
  const pw = Math.min(Math.max(PIP_MIN_W, w * PIP_SHARE), PIP_MAX_W, w / 2);
  const ph = pw / ASPECT;
  const c = CORNERS.includes(corner) ? corner : 'bottom-right';
  const x = c.endsWith('left') ? PIP_MARGIN : w - pw - PIP_MARGIN;
  const y = c.startsWith('top') ? PIP_MARGIN : h - ph - PIP_MARGIN;
  return { id, x, y, w: pw, h: ph, role: 'pip' };
}

function stageLayout(tiles, staged, w, h, gap, page, mode) {
  const others = tiles.filter((t) => t !== staged);
  const result = (stage, strip, pg) => ({
    mode,
    stage: staged.id,
    placed: [{ id: staged.id, ...stage, role: 'stage' }, ...strip],
    hidden: pg.rest.map((t) => t.id),
    page: pg.page,
    pages: pg.pages,
    perPage: pg.per,
  });
  if (w > h * LANDSCAPE) {
    // The strip is a column on the right.
    const sw = others.length ? Math.min(STRIP_MAX_W, Math.max(STRIP_MIN_W, w * STRIP_SHARE), w / 3) : 0;
    const sh = sw / ASPECT;
    const per = Math.max(1, Math.floor((h + gap) / (sh + gap)));
    const pg = paginate(others, per, page);
    const stage = fit(0, 0, w - (sw ? sw + gap : 0), h);
    const top = (h - (pg.shown.length * sh + (pg.shown.length - 1) * gap)) / 2;
    const strip = pg.shown.map((t, i) => ({ id: t.id, x: w - sw, y: top + i * (sh + gap), w: sw, h: sh, role: 'strip' }));
    return result(stage, strip, pg);
  }
  // Portrait: the stage on top, full width; the strip in a grid below.
  const stageH = others.length ? Math.min(w / ASPECT, h * STAGE_MAX_SHARE) : h;
  const stage = fit(0, 0, w, stageH);
  const below = h - stage.h - gap;
  const pg = paginate(others, capacity(w, below, gap), page);
  const strip = below > 0 ? cells(pg.shown, 0, stage.h + gap, w, below, gap, 'strip', stage.w * 0.75) : [];
  return result({ ...stage, y: 0 }, strip, below > 0 ? pg : { ...pg, rest: others, shown: [] });
}

/** nextMode is the mode after mode in MODES (the layout shortcut cycles through them). */
export function nextMode(mode) {
  return MODES[(MODES.indexOf(mode) + 1) % MODES.length];
}
