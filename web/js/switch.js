// @ts-check
// The make-before-break switch between mesh and SFU (docs/architecture.md §2,
// docs/protocol.md "Modes and the switch"). It knows every remote
// participant, which path (mesh link or SFU) each of their tiles shows, and
// moves tiles to the room's current path one by one, each as soon as the
// new stream's first frame has been presented.
//
// Per participant and tile role (camera, screen):
//   streams[path][role]  the latest stream each path offers
//   on[role]             the path the tile shows now (null: nothing yet)
// and per participant `target` (the room's mode) and `settled` (the path
// every tile of theirs is on, once they all are).
//
// mesh → SFU: we publish on the SFU; each tile moves when its SFU stream
// presents a frame; a participant is settled when all have. Then we tell
// them so ({"moved": "sfu"}, a client-to-client signal payload), and the
// mesh link closes once both sides have moved — closing it earlier would
// freeze the tiles the other side still shows from it.
// SFU → mesh: the participant with the smaller id offers a mesh link; tiles
// move to it the same way; we stop publishing on the SFU once everyone who
// was there has told us {"moved": "mesh"} (or left), or SWITCH_TIMEOUT_MS
// after our own tiles have all moved, for clients that never say so.
// A participant whose new path shows nothing within SWITCH_TIMEOUT_MS keeps
// the old one, with a warning; the move still completes if frames come later.
//
// DOM-free: tiles are reached through a `view` (tiles.js), connections
// through the mesh (mesh.js) and the SFU link (sfu.js).

/** How long a participant's new path may take to show their first frame. */
export const SWITCH_TIMEOUT_MS = 10000;

const ROLES = /** @type {const} */ (['camera', 'screen']);
const PATHS = /** @type {const} */ (['mesh', 'sfu']);

/** covers reports whether stream a has a track of every kind stream b has. */
const covers = (a, b) => b.getTracks().every((t) => a.getTracks().some((u) => u.kind === t.kind));

export class Switcher extends EventTarget {
  /**
   * @param {{mesh: {has(id: string): boolean, connect(p: {id: string, name: string}): void,
   *                 add(p: {id: string, name: string}): void, remove(id: string): void},
   *          sfu: {publish(on: boolean): void, remoteMedia(id: string): object|null, forget(id: string): void},
   *          view: object,
   *          signal: (to: string, data: object) => void,
   *          timeoutMs?: number}} opts
   */
  constructor({ mesh, sfu, view, signal, timeoutMs = SWITCH_TIMEOUT_MS }) {
    super();
    this.mesh = mesh;
    this.sfu = sfu;
    this.view = view;
    this.send = signal;
    this.timeoutMs = timeoutMs;
    this.selfId = '';
    /** @type {'mesh'|'sfu'} */
    this.mode = 'mesh';
    /** @type {Map<string, Part>} */
    this.parts = new Map();
    /** participants who must confirm they no longer need our SFU media */
    this.unpublishWait = null;
    this.unpublishTimer = 0;
    /** the switch in progress or the last one: {to, startedAt, doneAt, ms} (Date.now() times) */
    this.current = null;
    /** @type {{to: string, startedAt: number, doneAt: number, ms: number}[]} */
    this.history = [];
  }

  /** begin starts a session from a `welcome` (the room's participants and mode). */
  begin(welcome) {
    clearTimeout(this.unpublishTimer);
    this.unpublishTimer = 0;
    for (const p of this.parts.values()) clearTimeout(p.timer);
    this.parts.clear();
    this.selfId = welcome.id;
    this.mode = welcome.mode === 'sfu' ? 'sfu' : 'mesh';
    this.unpublishWait = null;
    this.current = null;
    this.sfu.publish(this.mode === 'sfu');
    for (const peer of welcome.peers ?? []) this.joined(peer);
    this.changed();
  }

  /** joined adds a participant (welcome or peer-joined); their tiles appear. */
  joined({ id, name }) {
    if (!id || this.parts.has(id)) return;
    const p = new Part(id, name || 'Guest', this.mode);
    this.parts.set(id, p);
    this.view.add(id, p.name);
    // Mesh: the newcomer offers (mesh.start does that for welcome's peers).
    if (this.mode === 'mesh') this.mesh.add({ id, name: p.name });
    this.check(p);
    this.changed();
  }

  /** left forgets a participant and their tiles and connections. */
  left(id) {
    const p = this.parts.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.parts.delete(id);
    this.mesh.remove(id);
    this.sfu.forget(id);
    this.view.remove(id);
    this.unpublishWait?.delete(id);
    this.checkAll();
    this.changed();
  }

  /** setMode follows the room's `mode` (a message that changes only the policy changes nothing here). */
  setMode(mode) {
    mode = mode === 'sfu' ? 'sfu' : 'mesh';
    if (mode === this.mode) return;
    this.mode = mode;
    this.current = { to: mode, startedAt: Date.now(), doneAt: 0, ms: 0 };
    clearTimeout(this.unpublishTimer);
    this.unpublishTimer = 0;
    if (mode === 'sfu') {
      this.unpublishWait = null;
      this.sfu.publish(true);
    } else {
      this.unpublishWait = new Set(this.parts.keys());
    }
    for (const p of this.parts.values()) this.retarget(p);
    this.checkAll();
    this.changed();
  }

  /** retarget starts moving one participant's tiles to the room's mode. */
  retarget(p) {
    p.target = this.mode;
    clearTimeout(p.timer);
    p.timer = 0;
    if (p.stuck) {
      p.stuck = false;
      this.view.stuck(p.id, false);
    }
    if (this.mode === 'mesh' && !this.mesh.has(p.id)) {
      // The smaller id offers; the other waits for it (docs/protocol.md).
      if (this.selfId < p.id) this.mesh.connect({ id: p.id, name: p.name });
      else this.mesh.add({ id: p.id, name: p.name });
    }
    for (const role of ROLES) {
      if (p.on[role] === p.target) this.view.cancel(p.id, role);
      else this.offer(p, role);
    }
    if (!this.done(p)) {
      p.timer = setTimeout(() => this.timedOut(p), this.timeoutMs);
    }
    this.check(p);
  }

  /** stream: a path offers a (new) stream for one of a participant's tiles. */
  stream(path, id, role, stream) {
    const p = this.parts.get(id);
    if (!p) return;
    p.streams[path][role] = stream;
    if (p.on[role] === path) this.view.show(id, role, stream);
    else if (path === p.target) this.offer(p, role);
    this.check(p);
  }

  /** unstream: a path no longer offers a stream for a tile. */
  unstream(path, id, role) {
    const p = this.parts.get(id);
    if (!p) return;
    p.streams[path][role] = null;
    if (p.on[role] === path) {
      const other = PATHS.find((x) => x !== path);
      const rescue = p.streams[other][role];
      if (rescue && other === p.target) {
        // The old path went away first: show the new one at once.
        this.view.show(id, role, rescue);
        this.setOn(p, role, other);
      } else {
        this.view.unshow(id, role);
        this.setOn(p, role, null);
      }
    } else if (path === p.target) {
      this.view.cancel(id, role);
    }
    this.check(p);
  }

  /**
   * offer shows the target path's stream for a role: at once if the tile
   * shows nothing yet, else prepared behind the current picture and swapped
   * in when it presents a frame. A stream is ready only when it carries
   * every kind of track the current one does (audio moves with video).
   */
  offer(p, role) {
    const path = p.target;
    const next = p.streams[path][role];
    if (!next || p.on[role] === path) return;
    if (p.on[role] === null) {
      this.view.show(p.id, role, next);
      this.setOn(p, role, path);
      return;
    }
    const cur = p.streams[p.on[role]][role];
    if (cur && !covers(next, cur)) return; // wait for the rest of its tracks
    if (next.getTracks().some((t) => t.readyState !== 'live')) return;
    if (p.preparing[role] === next) return; // already waiting for its frames
    p.preparing[role] = next;
    const media = this.mediaOf(p);
    const wantFrame = role === 'screen' || (media.cam !== false && next.getVideoTracks().length > 0);
    this.view.prepare(p.id, role, next, wantFrame).then((ok) => {
      if (p.preparing[role] === next) p.preparing[role] = null;
      if (!ok || p.streams[path][role] !== next || p.target !== path || this.parts.get(p.id) !== p) return;
      if (!this.view.commit(p.id, role)) return;
      this.setOn(p, role, path);
      this.check(p);
    });
  }

  /** setOn records the path a tile shows now. */
  setOn(p, role, path) {
    p.on[role] = path;
    this.fire('tile', { id: p.id, role, path });
  }

  /** mediaOf returns a participant's latest mic/cam flags (either path). */
  mediaOf(p) {
    return this.sfu.remoteMedia(p.id) ?? p.media ?? {};
  }

  /** setMedia records flags a mesh link reported (the SFU link keeps its own). */
  setMedia(id, media) {
    const p = this.parts.get(id);
    if (p) p.media = media;
  }

  /** done reports whether every tile of p shows its target path. */
  done(p) {
    return ROLES.every((r) => p.on[r] === null || p.on[r] === p.target);
  }

  /** check notices a participant whose tiles have all moved. */
  check(p) {
    if (!this.done(p) || p.settled === p.target) {
      this.closeOld(p);
      return;
    }
    const from = p.settled;
    p.settled = p.target;
    clearTimeout(p.timer);
    p.timer = 0;
    if (p.stuck) {
      p.stuck = false;
      this.view.stuck(p.id, false);
    }
    this.view.path(p.id, p.settled);
    // Tell them, so they can close what only they still needed. (Not for
    // a first arrival: nobody showed them on another path.)
    if (from) this.send(p.id, { moved: p.settled });
    this.fire('settled', { id: p.id, path: p.settled });
    this.closeOld(p);
    this.checkAll();
  }

  /** moved: a participant tells us which path now shows our tiles. */
  moved(from, path) {
    const p = this.parts.get(from);
    if (!p || !PATHS.includes(path)) return;
    p.theyMoved = path;
    if (path === 'mesh') this.unpublishWait?.delete(from);
    this.closeOld(p);
    this.checkAll();
  }

  /** closeOld closes the mesh link to p once neither side needs it. */
  closeOld(p) {
    if (this.mode === 'sfu' && p.settled === 'sfu' && p.theyMoved === 'sfu' && this.mesh.has(p.id)) {
      this.dropLink(p);
    }
  }

  /** dropLink closes the mesh link to p and forgets its streams. */
  dropLink(p) {
    this.mesh.remove(p.id);
    for (const role of ROLES) if (p.streams.mesh[role]) this.unstream('mesh', p.id, role);
  }

  /**
   * linkGone: a mesh link closed from the other side or failed for good.
   * In a pure mesh that means the participant is gone (their tab closed,
   * faster than the server notices); otherwise only the link is.
   */
  linkGone(id) {
    const p = this.parts.get(id);
    if (!p) return;
    if (this.mode === 'mesh' && !this.switching && p.settled === 'mesh') {
      this.left(id);
      return;
    }
    this.dropLink(p);
    // Closed by the other side just before the room went back to mesh: the
    // smaller id makes a new one.
    if (this.mode === 'mesh' && this.selfId < id) this.mesh.connect({ id, name: p.name });
  }

  timedOut(p) {
    if (this.parts.get(p.id) !== p || this.done(p)) return;
    p.stuck = true;
    this.view.stuck(p.id, true, p.target);
    this.fire('stuck', { id: p.id, name: p.name, path: p.target });
  }

  /** checkAll finishes the switch when everyone has moved. */
  checkAll() {
    if (this.mode === 'mesh' && this.unpublishWait && !this.switching) {
      if (this.unpublishWait.size === 0) this.unpublish();
      else if (!this.unpublishTimer) {
        // A client that does not say {"moved"} (or whose message was
        // lost) must not keep us publishing on the SFU for ever.
        this.unpublishTimer = setTimeout(() => {
          if (this.mode !== 'mesh' || !this.unpublishWait) return;
          console.info('parley: no {"moved": "mesh"} from', [...this.unpublishWait].join(', '), '; stopping to publish on the SFU anyway');
          this.unpublish();
        }, this.timeoutMs);
      }
    }
    const cur = this.current;
    if (cur && !cur.doneAt && !this.switching) {
      cur.doneAt = Date.now();
      cur.ms = cur.doneAt - cur.startedAt;
      this.history.push(cur);
      this.fire('switched', { ...cur });
      this.changed();
    }
  }

  /** unpublish stops sending our media to the SFU (its link stays up). */
  unpublish() {
    clearTimeout(this.unpublishTimer);
    this.unpublishTimer = 0;
    this.unpublishWait = null;
    this.sfu.publish(false);
  }

  /** switching is true while some participant's tiles are not on the room's path. */
  get switching() {
    for (const p of this.parts.values()) if (p.settled !== this.mode) return true;
    return false;
  }

  /** names of participants still on the old path after the timeout. */
  stuckNames() {
    return [...this.parts.values()].filter((p) => p.stuck).map((p) => p.name);
  }

  /** list is the debug view for tests. */
  list() {
    return [...this.parts.values()].map((p) => ({
      id: p.id,
      name: p.name,
      path: p.settled,
      target: p.target,
      on: { ...p.on },
      stuck: p.stuck,
      theyMoved: p.theyMoved,
    }));
  }

  close() {
    clearTimeout(this.unpublishTimer);
    for (const p of this.parts.values()) clearTimeout(p.timer);
    this.parts.clear();
  }

  changed() {
    this.fire('change', {});
  }

  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** Part is what the switch knows of one remote participant. */
class Part {
  constructor(id, name, mode) {
    this.id = id;
    this.name = name;
    /** @type {'mesh'|'sfu'} the room's path, where their tiles should be */
    this.target = mode;
    /** @type {'mesh'|'sfu'|null} where all their tiles are, once they are */
    this.settled = null;
    /** @type {{mesh: Record<string, MediaStream|null>, sfu: Record<string, MediaStream|null>}} */
    this.streams = { mesh: { camera: null, screen: null }, sfu: { camera: null, screen: null } };
    /** @type {Record<string, 'mesh'|'sfu'|null>} the path each tile shows */
    this.on = { camera: null, screen: null };
    /** @type {Record<string, MediaStream|null>} the stream waiting for its first frames */
    this.preparing = { camera: null, screen: null };
    /** the path they told us shows our tiles ({"moved": …}) */
    this.theyMoved = null;
    this.media = null;
    this.timer = 0;
    this.stuck = false;
  }
}
