// @ts-check
// The client's one RTCPeerConnection to the server's SFU (docs/sfu.md).
//
// Pre-flight: right after `welcome`, whatever the room's mode, the link
// opens with only a data channel, so ICE and DTLS are up before a switch
// needs them (the admin page shows the result). Once it is connected we add
// three idle media sections — microphone, camera, screen share — so that
// publishing (publish(true), in SFU mode) only puts our tracks on them, and
// going back to mesh replaces every track by null: nothing is sent and
// nothing is renegotiated; the SFU keeps our silent tracks, so the next
// switch starts at once.
//
// Negotiation: the client offers first; afterwards the SFU offers whenever
// the forwarded tracks change. The SFU is impolite, the browser polite. As
// in mesh.js, we never roll back a local offer (in Chromium that freezes
// the receivers it touched): after the first exchange our offers are sent
// without being applied, and applied only when their answer arrives; if an
// SFU offer comes first, ours is dropped (the SFU ignores it too), the
// SFU's is answered and we offer again.
//
// Directions: our transceivers are always sendrecv (the SFU answers
// recvonly). Never inactive: pion stops a transceiver for good when an offer
// makes it inactive; and not recvonly either: pion answers a receive-only
// section as sendonly, after which Chromium sees no need to renegotiate
// when we want to send on it.
//
// Events (CustomEvents):
//   stream   {peerId, role: 'camera'|'screen', stream}  a forwarded stream to show
//   unstream {peerId, role}
//   media    {peerId}  a participant's mic/cam flags or a track's mute changed
//   speaker  {peerId}  the active speaker (from the SFU's audio levels)
//   paused   {tiles: [{peerId, role}]}  the tiles whose video the SFU pauses
//            to save bandwidth (the full list; `paused`, docs/sfu.md)
//   state    {state}   'idle'|'connecting'|'connected'|'failed'|'closed'
//   pc       {pc}      a new connection (start), before its first offer
//
// Simulcast: the camera is sent as up to three encodings (SIMULCAST: ¼, ½
// and full resolution, lowest first, as docs/sfu.md requires; as many as
// the capture's size allows, simulcastFor); E2EE's encoded
// transform sits on the sender and so sees every layer's frames. The SFU
// forwards each viewer one layer, chosen from what viewport.js reports, and
// tells us with `layers` which encodings nobody wants, which we then stop
// encoding (dynacast). The screen share is one encoding: text downscaled to
// a half or a quarter is unreadable, and a second and third encode of a
// large screen would cost more CPU than the bandwidth it saves; the SFU
// still pauses it for anyone who cannot see it.
//
// The SFU never forwards a viewer's media (docs/access.md `publish:
// false`); should a track of one arrive anyway, it is ignored here as in
// mesh.js.

import { RemoteStreams } from './streams.js';
import { sanitizeDescription } from './sdp.js';
import { Viewport, PRIORITY } from './viewport.js';

/** The pre-flight (and any reconnection) must connect within this time. */
export const CONNECT_TIMEOUT_MS = 10000;
/** Minimum spacing between two ICE restarts of a failed link. */
const ICE_RESTART_SPACING_MS = 5000;
/** An offer whose answer never came is dropped after this long, and made again. */
const ANSWER_TIMEOUT_MS = 10000;

/** Our sending slots, one transceiver each, in m-line order (as in mesh.js). */
const SLOTS = /** @type {const} */ ([['mic', 'audio'], ['cam', 'video'], ['screen', 'video']]);

/**
 * The camera's simulcast encodings, lowest first (docs/sfu.md "Simulcast").
 * Bitrates for VP8 at 15–30 fps: ≈320×180, 640×360, 1280×720.
 */
export const SIMULCAST = Object.freeze([
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
]);

/**
 * simulcastFor picks the camera's encodings for a capture of this height:
 * as many layers as Chromium will really send (its simulcast limit by
 * resolution: three from 540 lines, two from 270, one below), the top one
 * at full size. Asking for more gets fewer than asked, and not the ones a
 * viewer wants: with three encodings of a 320×180 camera Chromium sent
 * the lowest alone, started the top one only once the lower ones were
 * turned off, and then carried it under the lowest one's RID — each
 * layer switch froze the tile for a second or more (TestBrowserSwitch).
 * Below 270 lines there is nothing to choose between: one encoding, no
 * simulcast.
 * With temporal, each encoding is L1T3 (three VP8 temporal layers): the SFU
 * can then forward a layer at a quarter or half of its frame rate to a
 * viewer whose link cannot carry all of it, instead of pausing the tile
 * (docs/sfu.md "Temporal layers").
 * @param {number} height the capture's height in pixels (0: unknown, taken as 360)
 * @param {boolean} [temporal] add scalabilityMode L1T3 (vp8TemporalLayers())
 * @returns {RTCRtpEncodingParameters[]|null} null: send one plain encoding
 */
export function simulcastFor(height, temporal = false) {
  const h = height > 0 ? height : 360;
  const n = h >= 540 ? 3 : h >= 270 ? 2 : 1;
  if (n === 1) return null;
  return SIMULCAST.slice(SIMULCAST.length - n).map((e) => (temporal ? { ...e, scalabilityMode: 'L1T3' } : { ...e }));
}

/**
 * vp8TemporalLayers says whether this browser lists L1T3 among its VP8
 * encoder's scalability modes, so that asking for it cannot fail. Chromium
 * (156) does not list it, yet sends every VP8 simulcast encoding as L1T3 by
 * default (outbound-rtp scalabilityMode; TestBrowserSimulcastViewport);
 * Firefox lists nothing, and then each layer is one temporal layer, which
 * the SFU handles as such.
 * @param {{getCapabilities?: (kind: string) => ({codecs: Array<{mimeType: string, scalabilityModes?: string[]}>}|null)}} [sender] RTCRtpSender, or a test's stand-in
 * @returns {boolean}
 */
export function vp8TemporalLayers(sender = globalThis.RTCRtpSender) {
  const codecs = sender?.getCapabilities?.('video')?.codecs ?? [];
  return codecs.some((c) => c.mimeType.toLowerCase() === 'video/vp8' && (c.scalabilityModes ?? []).includes('L1T3'));
}

/** Most entries read from one `paused` payload: the SFU forwards at most 256 videos to a client (its `view` limit). */
export const MAX_PAUSED = 256;

/**
 * pausedTracks reads the SFU's `paused` payload (docs/sfu.md): the ids of
 * the forwarded video tracks paused for lack of bandwidth. Entries with
 * another reason, or malformed, are ignored.
 * @param {unknown} list
 * @returns {Set<string>}
 */
export function pausedTracks(list) {
  const out = new Set();
  if (!Array.isArray(list)) return out;
  for (const e of list.slice(0, MAX_PAUSED)) {
    if (e && typeof e === 'object' && typeof e.track === 'string' && e.track && e.reason === 'bandwidth') out.add(e.track);
  }
  return out;
}

/**
 * pausedTiles maps paused track ids to the tiles that show them: the
 * owner (from `tracks`) and the role (the owner's announced screen stream,
 * else the camera). Tracks of unknown owner are left out; each tile once.
 * @param {Iterable<string>} ids
 * @param {(track: string) => string|undefined} ownerOf
 * @param {(track: string) => 'camera'|'screen'} roleOf
 * @returns {{peerId: string, role: 'camera'|'screen'}[]}
 */
export function pausedTiles(ids, ownerOf, roleOf) {
  const seen = new Set();
  const out = [];
  for (const id of ids) {
    const peerId = ownerOf(id);
    if (!peerId) continue;
    const role = roleOf(id);
    const key = `${peerId}\n${role}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ peerId, role });
  }
  return out;
}

/** The data channel the pre-flight opens (forwarded by label, docs/sfu.md). */
export const CHANNEL_LABEL = 'parley';

export class SfuLink extends EventTarget {
  /**
   * @param {{signaling: import('./signaling.js').Signaling,
   *          media: import('./media.js').LocalMedia,
   *          relayOnly?: boolean,
   *          viewer?: (id: string) => boolean,
   *          e2ee?: import('./e2ee.js').E2EE|null}} opts
   *   e2ee: the same frame encryption as in the mesh, with the same keys.
   *   viewer: whether a participant is a viewer, whose media is ignored.
   */
  constructor({ signaling, media, relayOnly = false, viewer = () => false, e2ee = null }) {
    super();
    this.viewer = viewer;
    this.e2ee = e2ee;
    this.signaling = signaling;
    this.media = media;
    this.relayOnly = relayOnly;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    this.state = 'idle';
    this.publishing = false;
    this.tx = { mic: null, cam: null, screen: null };
    /** the stream id our screen shares are sent under on this link (see syncSenders) */
    this.screenStream = new MediaStream();
    /** @type {RTCSessionDescriptionInit|null} sent, not applied, awaiting its answer */
    this.pendingOffer = null;
    this.wantOffer = false;
    this.answerTimer = 0;
    this.connectTimer = 0;
    this.restartTimer = 0;
    /** @type {Map<string, RemoteStreams>} routing per participant */
    this.remote = new Map();
    /** stream id → participant id, from the SFU's `tracks` payloads */
    this.streamOwner = new Map();
    this.trackOwner = new Map();
    this.queue = Promise.resolve();
    this.gen = 0; // counts sessions, so queued work of an old one is dropped
    this.closed = false;
    /** signal payloads sent and received, by kind (debug view) */
    this.counts = {};
    /** @type {RTCDataChannel|null} */
    this.channel = null;
    /** @type {Viewport|null} reports what we show of each forwarded video */
    this.viewport = null;
    /** forwarded track id → its stream id, from `tracks` */
    this.trackStream = new Map();
    /** (stream id, kind) → forwarded track id, from `tracks` */
    this.streamTrack = new Map();
    /** @type {WeakMap<MediaStreamTrack, string>} received track → forwarded track id (see sfuId) */
    this.received = new WeakMap();
    /** the forwarded video track ids (latest `tracks`), and those ever shown */
    this.videoTracks = [];
    this.shownTracks = new Set();
    this.speakerId = '';
    /** forwarded video track ids the SFU pauses for bandwidth (latest `paused`) */
    this.paused = new Set();
    /**
     * the SFU's latest dynacast report (`layers`): applied when it comes and
     * again whenever the senders are synced, so a report that came before
     * the camera's sender existed is not lost
     * @type {{active?: unknown} | null}
     */
    this.layers = null;
  }

  /** start opens the link (the pre-flight) for the session a `welcome` began. */
  start(welcome) {
    this.close();
    this.gen++;
    this.closed = false;
    this.remote = new Map();
    this.streamOwner.clear();
    this.trackOwner.clear();
    this.trackStream.clear();
    this.streamTrack.clear();
    this.received = new WeakMap();
    this.videoTracks = [];
    this.shownTracks.clear();
    this.clearPaused();
    if (typeof ResizeObserver === 'function') {
      this.viewport = new Viewport({
        send: (view) => this.signal({ view }),
        priority: (t) => this.priority(t),
        idOf: (t) => this.sfuId(t),
      });
    }
    const pc = new RTCPeerConnection({
      iceServers: Array.isArray(welcome.iceServers) ? welcome.iceServers : [],
      iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      ...this.e2ee?.rtcConfig(),
    });
    this.pc = pc;
    this.tx = { mic: null, cam: null, screen: null };
    this.pendingOffer = null;
    this.wantOffer = false;
    pc.addEventListener('icecandidate', ({ candidate }) => {
      this.signal({ candidate: candidate ? candidate.toJSON() : null });
    });
    pc.addEventListener('negotiationneeded', () => this.enqueue(() => this.negotiate()));
    pc.addEventListener('track', (ev) => this.onTrack(ev));
    pc.addEventListener('connectionstatechange', () => this.onConnectionState());
    this.sendMedia();
    this.channel = pc.createDataChannel(CHANNEL_LABEL);
    // The message layer (channels.js) adds its channels now, before the first offer.
    this.fire('pc', { pc });
    this.setState('connecting');
    this.connectTimer = setTimeout(() => {
      if (this.pc === pc && pc.connectionState !== 'connected') this.setState('failed');
    }, CONNECT_TIMEOUT_MS);
    if (this.publishing) this.enqueue(() => this.syncSenders());
  }

  /** publish starts (true) or stops (false) sending our tracks to the SFU. */
  publish(on) {
    this.publishing = on;
    if (this.pc) this.enqueue(() => this.syncSenders());
  }

  /** localChanged follows a change of our own media (tracks, flags, screen). */
  localChanged() {
    if (!this.pc) return;
    this.sendMedia();
    this.enqueue(() => this.syncSenders());
  }

  sendMedia() {
    this.signal({ media: this.media.describe() });
  }

  signal(data) {
    if (this.closed) return;
    this.count(data, 'sent');
    this.signaling.signal('sfu', data);
  }

  /** count tallies signal payloads by kind, for the debug view. */
  count(data, dir) {
    const kind = data.description ? data.description.type : Object.keys(data)[0];
    const key = `${dir}:${kind}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  /**
   * enqueue runs fn after every earlier operation on the connection, unless
   * a new session (start) or close came in between.
   */
  enqueue(fn) {
    const gen = this.gen;
    this.queue = this.queue.then(() => (gen === this.gen ? fn() : undefined)).catch((err) => {
      if (!this.closed) console.error('parley: sfu:', err);
    });
    return this.queue;
  }

  /** onSignal handles a payload from the SFU. */
  onSignal(data) {
    if (!data || typeof data !== 'object' || !this.pc) return;
    this.count(data, 'received');
    if (Array.isArray(data.tracks)) this.onTracks(data.tracks);
    if (typeof data.peer === 'string' && data.media) {
      this.participant(data.peer).setMedia(data.media);
      this.fire('media', { peerId: data.peer });
      if (this.paused.size) this.firePaused(); // a screen share may have been announced
    }
    if (typeof data.speaker === 'string') {
      this.speakerId = data.speaker;
      this.viewport?.changed();
      this.fire('speaker', { peerId: data.speaker });
    }
    if ('paused' in data) {
      this.paused = pausedTracks(data.paused);
      this.firePaused();
    }
    if (data.layers && typeof data.layers === 'object') {
      this.layers = data.layers;
      this.enqueue(() => this.applyLayers());
    }
    if (data.description || 'candidate' in data) this.enqueue(() => this.handle(data));
  }

  /** handle applies a description or candidate (serialized by enqueue). */
  async handle(data) {
    const pc = this.pc;
    if (!pc || this.closed) return;
    const d = data.description;
    if (d && d.type === 'offer') {
      if (this.pendingOffer) {
        // Glare: the SFU ignores ours; drop it and offer again afterwards.
        this.dropPendingOffer();
        this.wantOffer = true;
      }
      // Only our first offer is ever applied before its answer, and the SFU
      // never offers before answering it; roll back just in case.
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      await pc.setRemoteDescription(sanitizeDescription(d));
      // Forwarded tracks: whose they are, the KID says (peer null).
      this.e2ee?.attachAll(pc, null);
      await pc.setLocalDescription();
      this.signal({ description: sanitizeDescription(pc.localDescription) });
    } else if (d && d.type === 'answer') {
      if (this.pendingOffer) {
        const offer = this.pendingOffer;
        this.dropPendingOffer();
        await pc.setLocalDescription(offer);
      }
      if (pc.signalingState !== 'have-local-offer') return;
      clearTimeout(this.answerTimer);
      await pc.setRemoteDescription(sanitizeDescription(d));
    }
    if (d && this.wantOffer && pc.signalingState === 'stable') await this.negotiate();
    if ('candidate' in data) {
      try {
        await pc.addIceCandidate(data.candidate ?? undefined);
      } catch (err) {
        if (data.candidate) console.warn('parley: sfu candidate refused:', err.message);
      }
    }
  }

  dropPendingOffer() {
    this.pendingOffer = null;
    clearTimeout(this.answerTimer);
  }

  /** negotiate sends an offer now, or once the current exchange is over. */
  async negotiate() {
    const pc = this.pc;
    if (!pc || this.closed) return;
    if (pc.signalingState !== 'stable' || this.pendingOffer) {
      this.wantOffer = true;
      return;
    }
    this.wantOffer = false;
    this.sendMedia(); // stream ids first, so the SFU's `tracks` and `media` agree
    if (pc.currentLocalDescription) {
      const offer = await pc.createOffer();
      this.pendingOffer = offer;
      this.signal({ description: sanitizeDescription(offer) });
    } else {
      await pc.setLocalDescription();
      this.signal({ description: sanitizeDescription(pc.localDescription) });
    }
    clearTimeout(this.answerTimer);
    this.answerTimer = setTimeout(() => this.enqueue(() => this.answerTimedOut(pc)), ANSWER_TIMEOUT_MS);
  }

  /** answerTimedOut gives up on an offer the SFU never answered and offers again. */
  async answerTimedOut(pc) {
    if (this.pc !== pc || this.closed) return;
    if (this.pendingOffer) {
      this.pendingOffer = null;
      await this.negotiate();
    }
  }

  /**
   * syncSenders makes our senders carry the local tracks while we publish,
   * and nothing otherwise. The three media sections are made once, all
   * sendrecv with fixed stream ids — the microphone and camera in our
   * camera stream, the screen share in a stream of its own that outlives
   * each share — so that nothing on this link is ever renegotiated after
   * the pre-flight: publishing, a new screen share, a camera turned off are
   * all replaceTrack. (Receivers tell the screen from the camera by the
   * `media` payload: any other stream with video is the screen.)
   */
  async syncSenders() {
    const pc = this.pc;
    if (!pc || this.closed) return;
    // The pre-flight offers only a data channel; the media sections follow
    // once it is connected (idle: nothing is sent until we publish).
    if (!this.tx.mic && !this.publishing && this.state !== 'connected') return;
    const media = this.media;
    for (const [role, kind] of SLOTS) {
      this.tx[role] ??= pc.addTransceiver(kind, {
        direction: 'sendrecv',
        streams: [role === 'screen' ? this.screenStream : media.camera],
        ...(role === 'cam' ? this.camEncodings() : {}),
      });
      this.e2ee?.attachAll(pc, null);
      const want = this.publishing ? media.track(role) : null;
      const sender = this.tx[role].sender;
      if (sender.track !== want) await sender.replaceTrack(want);
    }
    await this.applyLayers();
  }

  /**
   * camEncodings: the camera transceiver's simulcast encodings for the
   * capture we have (or the quality asked for, before the camera starts).
   * Fixed once negotiated; a later camera of another size keeps them.
   * @returns {{sendEncodings?: RTCRtpEncodingParameters[]}}
   */
  camEncodings() {
    const cam = this.media.track('cam');
    const height = cam?.getSettings?.().height ?? this.media.quality?.height ?? 0;
    const enc = simulcastFor(height, vp8TemporalLayers());
    return enc ? { sendEncodings: enc } : {};
  }

  /** onTracks records which forwarded stream and track belong to whom. */
  onTracks(list) {
    const video = [];
    for (const t of list) {
      if (!t || typeof t.peer !== 'string') continue;
      if (typeof t.stream === 'string') this.streamOwner.set(t.stream, t.peer);
      if (typeof t.track === 'string') this.trackOwner.set(t.track, t.peer);
      if (typeof t.track === 'string' && typeof t.stream === 'string') {
        this.trackStream.set(t.track, t.stream);
        this.streamTrack.set(`${t.stream}/${t.kind}`, t.track);
      }
      if (t.kind === 'video' && typeof t.track === 'string') video.push(t.track);
    }
    this.videoTracks = video;
    this.reportTracks();
    if (this.paused.size) this.firePaused(); // owners may have changed
  }

  /** clearPaused forgets every pause (a new or closed link: nothing is forwarded). */
  clearPaused() {
    if (!this.paused.size) return;
    this.paused = new Set();
    this.firePaused();
  }

  /** firePaused announces the tiles whose video is paused for bandwidth. */
  firePaused() {
    const tiles = pausedTiles(this.paused, (t) => this.trackOwner.get(t),
      (t) => (this.isScreen(t) ? 'screen' : 'camera'));
    this.fire('paused', { tiles });
  }

  /**
   * reportTracks gives the viewport the forwarded videos that were ever
   * shown. One never shown yet is left out, so the SFU sends its lowest
   * layer rather than nothing: streams.js recognises a screen share by its
   * video arriving, which a paused track never would.
   */
  reportTracks() {
    this.viewport?.setTracks(this.videoTracks.filter((id) => this.shownTracks.has(id)));
  }

  /**
   * sfuId is the forwarded track id (as in `tracks` and `view`) of a
   * received track. The receiving MediaStreamTrack's own id is not always
   * it: Firefox gives remote tracks ids of its own, and an m-line the SFU
   * reuses for another track keeps the receiver's first track (and id).
   * onTrack records the mapping at every track event.
   * @param {MediaStreamTrack} track
   */
  sfuId(track) {
    return this.received.get(track) ?? track.id;
  }

  /** priority ranks a forwarded video for the SFU: screen shares, the speaker, the rest. */
  priority(track) {
    if (this.isScreen(track)) return PRIORITY.screen;
    const owner = this.trackOwner.get(track);
    return owner && owner === this.speakerId ? PRIORITY.speaker : PRIORITY.normal;
  }

  /** isScreen says whether a forwarded track is its owner's announced screen share. */
  isScreen(track) {
    const owner = this.trackOwner.get(track);
    const stream = this.trackStream.get(track);
    const screen = owner ? this.remote.get(owner)?.remote.screen : null;
    return !!screen && (stream === screen || stream === `${owner}-${screen}`);
  }

  /**
   * applyLayers follows the SFU's latest dynacast report: the camera
   * encodings nobody receives are turned off, the others on. Only the
   * camera is simulcast, so a report is about its sender. Nothing changes
   * when the encodings already match (the SFU repeats a report whose
   * layer does not flow: sfu/view.go dynacastRepeat).
   */
  async applyLayers() {
    const layers = this.layers;
    const sender = this.tx.cam?.sender;
    if (!layers || !sender || !Array.isArray(layers.active)) return;
    const active = new Set(layers.active.filter((r) => typeof r === 'string'));
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return;
    let changed = false;
    for (const e of params.encodings) {
      const on = active.has(e.rid);
      if (e.active !== on) {
        e.active = on;
        changed = true;
      }
    }
    if (changed) await sender.setParameters(params);
  }

  /** participant returns the routing of one remote participant. */
  participant(peerId) {
    let r = this.remote.get(peerId);
    if (!r) {
      r = new RemoteStreams({
        prefix: `${peerId}-`,
        accept: () => !this.viewer(peerId),
        show: (role, stream) => {
          for (const t of stream.getVideoTracks()) this.shownTracks.add(this.sfuId(t));
          this.reportTracks();
          this.fire('stream', { peerId, role, stream });
        },
        unshow: (role) => this.fire('unstream', { peerId, role }),
      });
      this.remote.set(peerId, r);
    }
    return r;
  }

  onTrack(ev) {
    this.e2ee?.attachAll(this.pc, null); // (normally attached already)
    const stream = ev.streams[0];
    const owner = (stream && this.streamOwner.get(stream.id)) ?? this.trackOwner.get(ev.track.id);
    if (!owner || !stream) {
      // (pion answers our receive-only screen slot with a send direction
      // and a random stream id; nothing is ever sent on it.)
      console.debug('parley: sfu: a track nobody announced', stream?.id, ev.track.id);
      return;
    }
    if (this.viewer(owner)) {
      console.warn('parley: sfu: ignoring a track forwarded from a viewer', owner);
      return;
    }
    const id = this.trackOwner.has(ev.track.id) ? ev.track.id : this.streamTrack.get(`${stream.id}/${ev.track.kind}`);
    if (id) this.received.set(ev.track, id);
    // Its frames must decrypt under the owner's MLS leaf (docs/e2ee.md).
    this.e2ee?.bind(ev.receiver, owner);
    this.participant(owner).add(stream, ev.track, () => this.fire('media', { peerId: owner }));
  }

  /** recheck re-routes a participant's media after their role changed (viewer or not). */
  recheck(peerId) {
    this.remote.get(peerId)?.route();
  }

  /** forget drops a participant who left the room. */
  forget(peerId) {
    const r = this.remote.get(peerId);
    if (!r) return;
    r.close();
    this.remote.delete(peerId);
  }

  /** remoteMedia returns what a participant announced through the SFU. */
  remoteMedia(peerId) {
    return this.remote.get(peerId)?.remote ?? null;
  }

  videoMuted(peerId) {
    return this.remote.get(peerId)?.videoMuted() ?? true;
  }

  onConnectionState() {
    const pc = this.pc;
    if (!pc || this.closed) return;
    const s = pc.connectionState;
    if (s === 'connected') {
      clearTimeout(this.connectTimer);
      this.setState('connected');
      // Warm up: add our (idle) media sections now, so that a switch to
      // the SFU only has to put tracks on them — no renegotiation of ours.
      this.enqueue(() => this.syncSenders());
    } else if (s === 'failed') {
      this.setState('failed');
      this.restartIce(pc);
    } else if (s === 'disconnected') {
      this.setState('connecting');
    }
  }

  /**
   * restartIce tries an ICE restart (→ negotiationneeded → our offer with
   * new credentials) now and again every few seconds while the link stays
   * failed.
   */
  restartIce(pc) {
    if (this.restartTimer) return;
    pc.restartIce();
    this.restartTimer = setInterval(() => {
      if (this.pc !== pc || pc.connectionState !== 'failed') {
        clearInterval(this.restartTimer);
        this.restartTimer = 0;
        return;
      }
      pc.restartIce();
    }, ICE_RESTART_SPACING_MS);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.fire('state', { state });
  }

  /** close ends the link (a new `welcome` starts another). */
  close() {
    if (!this.pc) return;
    this.closed = true;
    this.gen++;
    clearTimeout(this.answerTimer);
    clearTimeout(this.connectTimer);
    clearInterval(this.restartTimer);
    this.restartTimer = 0;
    for (const r of this.remote.values()) r.close();
    this.viewport?.close();
    this.viewport = null;
    this.clearPaused();
    this.pc.close();
    this.pc = null;
    this.channel = null;
    this.setState('closed');
  }

  /** debug summary for tests. */
  info() {
    return {
      state: this.state,
      publishing: this.publishing,
      pc: this.pc,
      sending: Object.fromEntries(SLOTS.map(([role]) => [role, !!this.tx[role]?.sender.track])),
      // participant id → how many forwarded tracks the SFU announced for them
      forwarded: [...this.trackOwner.values()].reduce((n, id) => ({ ...n, [id]: (n[id] ?? 0) + 1 }), {}),
      // track id → participant id (forwarded ids, and the ids of the
      // received tracks: getStats' trackIdentifier), and the last `view` we sent
      owners: this.owners(),
      view: this.viewport?.last ?? null,
      paused: [...this.paused], // forwarded video track ids paused for bandwidth (latest `paused`)
      counts: { ...this.counts },
    };
  }

  /** owners maps forwarded and received track ids to participant ids (debug). */
  owners() {
    const out = Object.fromEntries(this.trackOwner);
    for (const r of this.pc?.getReceivers() ?? []) {
      const id = r.track && this.received.get(r.track);
      if (id && this.trackOwner.has(id)) out[r.track.id] = this.trackOwner.get(id);
    }
    return out;
  }

  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
