// @ts-check
// Which incoming stream of one remote participant is their camera and which
// their screen share, on one connection (a mesh link or the SFU). Shared by
// mesh.js and sfu.js so both paths route media the same way.
//
// The `media` payload (docs/protocol.md) names the camera and screen stream
// ids. If an id and what arrived disagree (briefly, around a glare, or when
// the SFU prefixed an id that another participant already used), the camera
// is the announced camera stream and the screen any other stream whose video
// is arriving (live and not muted).
//
// A track moved to another stream (the sender called setStreams: a client
// from before mesh links kept one screen stream, web/js/mesh.js, sent each
// share in a new one) is forgotten in its old stream: Chromium leaves it in
// both, and the stale one must not be shown in place of the new share
// before the new share's track event arrives.
//
// Nothing from a viewer (a participant whose join token says publish:
// false, docs/access.md) is ever shown or played: `accept` says so, and
// while it is false every stream is withdrawn. In a mesh nobody else can
// enforce that.

/**
 * Media is a normalized `media` payload: the stream ids (msid) of the
 * camera and the screen share, null when not sent, and the mic/cam flags.
 * @typedef {{camera: string|null, screen: string|null, mic: boolean, cam: boolean}} Media
 */

/** The `media` payload of a participant we have not heard from yet. */
export const NO_MEDIA = Object.freeze({ camera: null, screen: null, mic: true, cam: true });

/**
 * parseMedia normalizes a `media` payload from the network.
 * @returns {Media}
 */
export function parseMedia(m) {
  const str = (v) => (typeof v === 'string' && v ? v : null);
  if (!m || typeof m !== 'object') return { ...NO_MEDIA };
  return { camera: str(m.camera), screen: str(m.screen), mic: m.mic !== false, cam: m.cam !== false };
}

/** liveVideo reports whether a stream carries a live video track. */
const liveVideo = (s) => s.getVideoTracks().some((t) => t.readyState === 'live');
/** arriving reports whether a stream's video is live and receiving (not muted). */
const arriving = (s) => s.getVideoTracks().some((t) => t.readyState === 'live' && !t.muted);

export class RemoteStreams {
  /**
   * @param {{show: (role: 'camera'|'screen', stream: MediaStream) => void,
   *          unshow: (role: 'camera'|'screen') => void,
   *          prefix?: string, accept?: () => boolean,
   *          trace?: (what: string) => void}} opts
   *   prefix: an alternative id prefix ("<peerId>-") the SFU may have put on
   *   this participant's stream ids.
   *   accept: whether this participant's media may be shown at all (false
   *   for a viewer); call route() when the answer changes.
   *   trace: told each show and unshow (a mesh link's negotiation trace,
   *   which tests dump on failure).
   */
  constructor({ show, unshow, prefix = '', accept = () => true, trace = () => {} }) {
    this.trace = trace;
    this.accept = accept;
    this.onShow = show;
    this.onUnshow = unshow;
    this.prefix = prefix;
    /** @type {Media} What the remote told us in its `media` payload. */
    this.remote = { ...NO_MEDIA };
    /** @type {Map<string, MediaStream>} incoming streams by id (msid) */
    this.streams = new Map();
    /** @type {{camera: MediaStream|null, screen: MediaStream|null}} what was announced */
    this.shown = { camera: null, screen: null };
    this.shownKey = { camera: '', screen: '' };
    this.seen = new WeakSet();
    this.closed = false;
  }

  /** setMedia takes a new `media` payload and re-routes. */
  setMedia(m) {
    this.remote = parseMedia(m);
    this.route();
  }

  /**
   * add records a stream (from a track event) and re-routes whenever its
   * tracks change. onTrackChange is called on a track's mute/unmute.
   */
  add(stream, track, onTrackChange) {
    // The browser may hand out a new MediaStream object for an id it used
    // before: keep the newest.
    this.streams.set(stream.id, stream);
    if (track) {
      for (const [id, s] of this.streams) {
        if (s !== stream && s.getTracks().includes(track)) this.streams.delete(id);
      }
    }
    if (!this.seen.has(stream)) {
      this.seen.add(stream);
      stream.addEventListener('addtrack', () => this.route());
      stream.addEventListener('removetrack', () => this.route());
    }
    if (track && !this.seen.has(track)) {
      this.seen.add(track);
      for (const type of ['mute', 'unmute']) {
        track.addEventListener(type, () => {
          this.route();
          onTrackChange?.();
        });
      }
      track.addEventListener('ended', () => this.route());
    }
    this.route();
  }

  /** lookup finds a stream by announced id, also under the SFU's prefix. */
  lookup(id) {
    if (!id) return undefined;
    return this.streams.get(id) ?? (this.prefix ? this.streams.get(this.prefix + id) : undefined);
  }

  /** isCamera reports whether a stream id is the announced camera. */
  isCamera(id) {
    const c = this.remote.camera;
    return !!c && (id === c || id === this.prefix + c);
  }

  route() {
    if (this.closed) return;
    if (!this.accept()) {
      this.unshow('screen');
      this.unshow('camera');
      return;
    }
    const { camera, screen } = this.remote;
    const streams = [...this.streams.values()].filter((s) => s.getTracks().length > 0);
    let cam = camera ? this.lookup(camera)
      : streams.find((s) => s !== this.lookup(screen) && !s.id.startsWith('mid:'));
    if (cam && cam.getTracks().length === 0) cam = undefined;
    let scr = null;
    if (screen) {
      scr = this.lookup(screen);
      if (!scr || !liveVideo(scr)) scr = streams.find((s) => s !== cam && !this.isCamera(s.id) && arriving(s)) ?? null;
    }
    if (scr) this.show('screen', scr);
    else this.unshow('screen');
    if (cam) this.show('camera', cam);
    else this.unshow('camera');
  }

  /**
   * show announces what to display in a role: a new MediaStream of the
   * source stream's live tracks, made again whenever that set changes. (A
   * <video> does not reliably pick up a track added to its srcObject later.)
   */
  show(role, source) {
    const tracks = source.getTracks().filter((t) => t.readyState === 'live');
    const key = `${source.id}:${tracks.map((t) => t.id).sort().join(',')}`;
    if (this.shown[role] && this.shownKey[role] === key) return;
    this.trace(`show ${role}: stream ${source.id.slice(0, 8)}, ${tracks.length} track(s)`);
    this.shownKey[role] = key;
    const stream = new MediaStream(tracks);
    this.shown[role] = stream;
    this.onShow(role, stream);
  }

  unshow(role) {
    if (!this.shown[role]) return;
    this.trace(`unshow ${role}`);
    this.shown[role] = null;
    this.shownKey[role] = '';
    this.onUnshow(role);
  }

  /** videoMuted reports whether the camera video is not arriving (track muted). */
  videoMuted() {
    const v = this.shown.camera?.getVideoTracks()[0];
    return !v || v.muted || v.readyState !== 'live';
  }

  close() {
    this.closed = true;
  }
}
