// @ts-check
// The remote tiles of the call, as switch.js sees them: per participant a
// camera tile (key = participant id) and, while they share, a screen tile
// (key = "<id>:screen"). Tiles outlive the streams in them, so a move
// between mesh and SFU keeps the same element, data-peer and data-peer-id.

import { Tile } from './ui.js';
import { toast } from './toasts.js';

const screenKey = (id) => `${id}:screen`;

/** What a tile whose video the SFU paused for bandwidth says (setPaused). */
export const PAUSED_TEXT = 'Paused to save bandwidth';

export class TileView {
  /** @param {import('./ui.js').Grid} grid */
  constructor(grid) {
    this.grid = grid;
    /** @type {Map<string, string>} participant id → name */
    this.names = new Map();
    this.speaker = '';
    /** @type {Map<string, object>} participant id → last E2EE lock state (Tile.setE2ee) */
    this.locks = new Map();
    /** @type {Map<string, string[]>} participant id → role labels (Tile.setRoles) */
    this.roles = new Map();
    /** @type {Map<string, {state: string, text: string}>} participant id → link problem (setLinkState) */
    this.links = new Map();
    /** @type {Map<string, import('./mediastate.js').MediaVerdict>} participant id → media state (setMedia) */
    this.media = new Map();
    /** @type {Set<string>} tile keys whose video the SFU pauses to save bandwidth (setPaused) */
    this.paused = new Set();
    /** @type {((id: string, tile: Tile) => void)|null} adds per-tile controls to camera tiles (moderation.js) */
    this.decorate = null;
  }

  /** tile returns a participant's tile for a role, creating it if needed. */
  tile(id, role) {
    const key = role === 'screen' ? screenKey(id) : id;
    const name = this.names.get(id) ?? 'Guest';
    let t = this.grid.get(key);
    if (!t) {
      t = this.grid.add(new Tile({ key, name, peerId: id, screen: role === 'screen' }));
      if (role === 'screen') toast(`${name} is sharing their screen`, { kind: 'share' });
      const lock = this.locks.get(id);
      if (lock) t.setE2ee(lock);
      this.applyLink(id, t);
      this.applyMedia(id, t);
      this.applyPaused(key, t);
      if (role !== 'screen') {
        const labels = this.roles.get(id);
        if (labels) t.setRoles(labels);
        this.decorate?.(id, t);
      }
    }
    return t;
  }

  /** get returns a participant's tile for a role, if it exists. */
  get(id, role = 'camera') {
    return this.grid.get(role === 'screen' ? screenKey(id) : id);
  }

  add(id, name) {
    this.names.set(id, name);
    this.tile(id, 'camera').setState('connecting');
  }

  remove(id) {
    this.names.delete(id);
    this.locks.delete(id);
    this.roles.delete(id);
    this.links.delete(id);
    this.media.delete(id);
    this.paused.delete(id);
    this.paused.delete(screenKey(id));
    this.grid.remove(id);
    this.grid.remove(screenKey(id));
  }

  show(id, role, stream) {
    const t = this.tile(id, role);
    t.setStream(stream);
    if (role === 'screen') t.setState('connected');
  }

  unshow(id, role) {
    if (role === 'screen') this.grid.remove(screenKey(id));
    else this.get(id)?.setStream(null);
  }

  /** prepare loads a stream behind a tile's picture; resolves true on its first frame. */
  prepare(id, role, stream, wantFrame) {
    return this.tile(id, role).prepare(stream, wantFrame);
  }

  commit(id, role) {
    return this.get(id, role)?.commit() ?? false;
  }

  cancel(id, role) {
    this.get(id, role)?.cancelPrepare();
  }

  /** path marks a participant's tiles with the path they show (data-path). */
  path(id, path) {
    for (const role of ['camera', 'screen']) {
      const t = this.get(id, role);
      if (t) t.el.dataset.path = path;
    }
  }

  /** stuck marks a participant whose tiles could not move (data-switch="stuck"). */
  stuck(id, on) {
    const t = this.get(id);
    if (!t) return;
    if (on) t.el.dataset.switch = 'stuck';
    else delete t.el.dataset.switch;
  }

  /**
   * setSpeaker highlights one participant's camera tile as talking ('' for
   * nobody). The call itself uses speaking.js, which marks every tile in
   * every mode; this stays for callers that know only one speaker.
   */
  setSpeaker(id) {
    if (this.speaker === id) return;
    this.get(this.speaker)?.setSpeaking(false);
    this.speaker = id;
    this.get(id)?.setSpeaking(true);
  }

  /** setRoles shows a participant's role labels on their camera tile. */
  setRoles(id, labels) {
    this.roles.set(id, labels);
    this.get(id)?.setRoles(labels);
  }

  /** redecorate runs decorate again on every camera tile (the permissions changed). */
  redecorate() {
    for (const id of this.names.keys()) {
      const t = this.get(id);
      if (t) this.decorate?.(id, t);
    }
  }

  /** e2ee shows a participant's encryption lock on their tiles (Tile.setE2ee). */
  e2ee(id, lock) {
    this.locks.set(id, lock);
    for (const role of ['camera', 'screen']) {
      const t = this.get(id, role);
      if (!t) continue;
      t.setE2ee(lock);
    }
  }

  /**
   * setLinkState shows a problem with the link to a participant next to
   * the lock of their tiles: state 'trying' | 'failed' with a sentence
   * ("Can't connect directly to NAME — trying another way"); '' clears it.
   * The lock's own look follows the media state (setMedia), which takes
   * this sentence while the link has a problem.
   * DOM hook: `.tile[data-link=STATE] .link-state`.
   */
  setLinkState(id, state, text) {
    if (state) this.links.set(id, { state, text });
    else this.links.delete(id);
    for (const role of ['camera', 'screen']) {
      const t = this.get(id, role);
      if (t) {
        this.applyLink(id, t);
        this.applyMedia(id, t);
      }
    }
  }

  /** applyLink puts a participant's link state on one of their tiles. */
  applyLink(id, t) {
    const link = this.links.get(id);
    let note = t.el.querySelector('.link-state');
    if (!link) {
      note?.remove();
      delete t.el.dataset.link;
      return;
    }
    note ??= statusNote('link-state');
    placeNote(t, note);
    note.textContent = link.text;
    t.el.dataset.link = link.state;
  }

  /**
   * setMedia shows whether a participant's picture and sound arrive
   * (mediastate.js verdict), apart from their lock: while nothing
   * expected arrives the lock reads "keys verified — no media yet" (never
   * plain verified), and once the grace period is over the tile says
   * "No picture or sound from NAME yet" (unless the link's own note already
   * says why). DOM hook: `.tile[data-media=waiting|stalled] .media-state`.
   * @param {string} id
   * @param {import('./mediastate.js').MediaVerdict} verdict
   */
  setMedia(id, verdict) {
    this.media.set(id, verdict);
    for (const role of ['camera', 'screen']) {
      const t = this.get(id, role);
      if (t) this.applyMedia(id, t);
    }
  }

  /** applyMedia puts a participant's media state on one of their tiles. */
  applyMedia(id, t) {
    const v = this.media.get(id);
    const none = v && (v.state === 'waiting' || v.state === 'stalled');
    const link = this.links.get(id);
    t.setNoMedia(none ? (link?.text || v.text) : '');
    if (none) t.el.dataset.media = v.state;
    else delete t.el.dataset.media;
    let note = t.el.querySelector('.media-state');
    if (!none || !v.note || link) {
      note?.remove();
      return;
    }
    if (!note) {
      note = statusNote('media-state');
      placeNote(t, note);
    }
    note.textContent = v.text; // after insertion: a live region announces changes
  }

  /**
   * setPaused shows "Paused to save bandwidth" on the tiles whose video
   * the SFU stopped forwarding because the link cannot carry it (sfu.js
   * `paused` event: the full list), and takes it off the others. The note
   * is a status, so screen readers announce it when it appears.
   * DOM hook: `.tile[data-paused=bandwidth] .paused-note`.
   * @param {{peerId: string, role: 'camera'|'screen'}[]} tiles
   */
  setPaused(tiles) {
    const next = new Set(tiles.map(({ peerId, role }) => (role === 'screen' ? screenKey(peerId) : peerId)));
    const changed = new Set([...this.paused, ...next]);
    this.paused = next;
    for (const key of changed) {
      const t = this.grid.get(key);
      if (t) this.applyPaused(key, t);
    }
  }

  /** applyPaused puts or takes the bandwidth note on one tile. */
  applyPaused(key, t) {
    let note = t.el.querySelector('.paused-note');
    if (!this.paused.has(key)) {
      note?.remove();
      delete t.el.dataset.paused;
      return;
    }
    if (!note) {
      note = document.createElement('span');
      note.className = 'paused-note';
      note.setAttribute('role', 'status');
      t.label.append(note);
      note.textContent = PAUSED_TEXT; // after insertion: a live region announces changes
    }
    t.el.dataset.paused = 'bandwidth';
  }

  /** indicators updates a participant's mic/camera marks and connection state. */
  indicators(id, { mic, cam, state }) {
    const t = this.get(id);
    if (!t) return;
    if (mic !== undefined) t.setMic(mic);
    if (cam !== undefined) t.setCam(cam);
    if (state) t.setState(state);
  }
}

/** statusNote makes a tile's note: a live region screen readers announce. */
function statusNote(className) {
  const note = document.createElement('span');
  note.className = className;
  note.setAttribute('role', 'status');
  return note;
}

/** placeNote puts a note right after the tile's lock, so the two are read (and seen) together. */
function placeNote(t, note) {
  if (t.lock) t.lock.after(note);
  else t.label.prepend(note);
}
