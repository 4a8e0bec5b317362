// @ts-check
// The full mesh: one RTCPeerConnection per remote participant, negotiated
// with "perfect negotiation" (W3C WebRTC §10.7): either side may offer at
// any time; on glare the peer with the lexically smaller id (polite) yields
// and the other (impolite) ignores the colliding offer.
//
// One change from the textbook pattern: the polite side never has to roll
// back. After the first exchange it sends its offers without applying them
// (createOffer, not setLocalDescription) and applies one only when its answer
// arrives; on glare it just drops it and answers the impolite offer, then
// offers again. Reason: in Chromium (seen with 156) rolling back a local
// offer leaves every receiver that offer touched without packets — remote
// video freezes for good. Offers carry no new ICE candidates after the first
// exchange (BUNDLE, same credentials) except for an ICE restart, whose
// candidates then trickle once the answer is applied.
//
// Who offers first (docs/protocol.md): the newcomer, to every peer listed in
// its `welcome`. Existing participants create their connection on the first
// signal from the newcomer, apply its offer, and only then attach their own
// tracks to the offered transceivers, so the answer carries them (no second
// round trip).
//
// Every connection has a fixed set of m-lines from its first offer: audio
// (microphone), video (camera), video (screen share), in that order. Later
// changes (screen share on/off, camera on after a refusal) only change a
// transceiver's track, direction and stream id, never add an m-line. That
// keeps renegotiations small and the SDP stable, and gives the E2EE
// transforms (set right after a transceiver is created) a fixed place.
//
// Every screen share on a link goes out in one stream of that link's own
// (Peer.screenStream, made at the first share), and our `media` payload to
// that peer names it. Reason: Chromium (seen with 156) takes a sender's
// stream ids back from the first send stream it negotiated on that
// transceiver each time it applies a local description, whatever
// setStreams said since. With a new stream per share, the offer for the
// second share named the new stream and every later description the first
// one again: the other side moved the track back into the old stream and
// rebuilt the screen tile (its picture restarted), at the first
// renegotiation of that share — at once after a glare (TestBrowserGlare).
//
// The mesh knows nothing of the DOM. It fires CustomEvents whose detail
// holds the remote `peer` (a Peer):
//   peer-stream  {peer, role: 'camera'|'screen', stream}  a stream to show
//   peer-unstream {peer, role}                            stop showing it
//   peer-media   {peer}  peer.remote (mic/cam flags) or track mute changed
//   peer-state   {peer}  peer.state changed ('new'|'connecting'|'connected'|
//                        'reconnecting'|'failed')
//   peer-gone    {peer}  the remote end closed its connection, or it stayed
//                        failed despite ICE restarts
//   peer-link    {peer}  peer.link ({state: ''|'trying'|'failed', text})
//                        changed: the link-health watchdog's verdict, to show
//                        on the tile (empty: nothing to say)
//   peer-channels {peer} make the data channels now (channels.js)
//
// A mesh link is one connection; the participant behind it is known to
// switch.js, which decides when links are made (mode mesh) and closed (after
// a move to the SFU). Which incoming stream is which is decided by
// streams.js, shared with the SFU path.
//
// Link health: a link that has not connected within LINK_CONNECT_MS (or
// that failed) never fails silently. The watchdog says so (peer-link:
// "Can't connect directly to NAME — trying another way") and climbs a
// ladder, one rung per LINK_STEP_MS: an ICE restart (or, if our offer is
// still unanswered, that offer sent again), then a relay-only path through
// the TURN servers of the welcome (iceTransportPolicy 'relay'; an offer
// still unanswered is rolled back first: the other side refused it), then
// asking the server to carry the room through the SFU (`link-failed`,
// docs/protocol.md: an auto room moves there and stays while this pair is
// in it; the tile says "… — trying through the server" meanwhile), then
// ICE restarts every LINK_STEP_MS with the state 'failed'. A link that
// connects clears the state; `ladder` lists the rungs taken.
//
// Viewers (docs/access.md `publish: false`): the server cannot police what
// a browser sends over a mesh link, so media tracks from a participant the
// server marked `viewer` are ignored here: never routed, shown or played.

import { RemoteStreams } from './streams.js';
import { sanitizeDescription, dtlsRole, keepDtlsRole } from './sdp.js';
import { LinkAdapt, VIEW_CHANNEL } from './meshadapt.js';

/** After this long in `failed` despite ICE restarts, a peer counts as gone. */
const FAILED_GIVE_UP_MS = 20000;
/** Minimum spacing between two ICE restarts of one connection. */
const ICE_RESTART_SPACING_MS = 5000;
/**
 * A link not connected this long after it was opened is in trouble: on
 * loopback or a LAN a link connects in well under a second, across the
 * internet in 1–3 s; 10 s is what docs/browsers.md promises the person.
 */
const LINK_CONNECT_MS = 10000;
/** Time each recovery step (ICE restart, relay-only) gets before the next. */
const LINK_STEP_MS = 10000;

/**
 * Transceiver: an RTCRtpTransceiver as browsers have it. `stopped` is the
 * WebRTC 1.0 drafts' attribute (Firefox and Safari keep it; the final spec
 * and TypeScript's DOM types dropped it for currentDirection 'stopped'):
 * where it is missing it reads undefined, and this mesh never stops a
 * transceiver itself, so the checks below only skip ones a browser flags.
 * @typedef {RTCRtpTransceiver & {stopped?: boolean}} Transceiver
 */

/**
 * Negotiation steps a link's trace keeps: two share rounds with a glare
 * each, as TestBrowserGlare makes, with their candidates and tracks.
 */
const TRACE_STEPS = 80;

/** Our sending slots, one transceiver each, in m-line order. */
const SLOTS = /** @type {const} */ ([['mic', 'audio'], ['cam', 'video'], ['screen', 'video']]);

/** describeSignal names a signal payload for the trace (no SDP, no keys). */
function describeSignal(data) {
  const parts = Object.keys(data);
  if (data.description) {
    parts.push(String(data.description.type));
    // The DTLS role each side claims: browsers disagreeing on it is a
    // failure mode of their own (Firefox and Chromium interop).
    const setup = /\na=setup:(\w+)/.exec(String(data.description.sdp ?? ''));
    if (setup) parts.push(`setup=${setup[1]}`);
    // The stream id each m-line's sender announces (msid), in m-line order,
    // '-' for none: which stream a track lands in on the other side.
    const msids = String(data.description.sdp ?? '').split(/\r?\nm=/).slice(1)
      .map((m) => /\na=msid:(\S+)/.exec(m)?.[1].slice(0, 8) ?? '-');
    if (msids.length) parts.push(`msid=${msids.join(',')}`);
  }
  if (data.media) parts.push(`screen=${data.media.screen ?? '-'}`);
  return parts.join(' ');
}

export class Mesh extends EventTarget {
  /**
   * @param {{signaling: import('./signaling.js').Signaling,
   *          media: import('./media.js').LocalMedia,
   *          relayOnly?: boolean,
   *          accept?: (from: string, data: object) => boolean,
   *          viewer?: (id: string) => boolean,
   *          viaServer?: ((id: string) => boolean)|null,
   *          e2ee?: import('./e2ee.js').E2EE|null}} opts
   *   accept: whether a signal from someone we have no connection with may
   *   open one (not while the room uses the SFU).
   *   viewer: whether a participant is a viewer, whose media is ignored.
   *   viaServer: asks the server to carry the room through the SFU
   *   (`link-failed`), the watchdog's last rung.
   *   e2ee: encrypts our frames and decrypts theirs (attached right after
   *   each transceiver appears; see E2EE.attachAll).
   */
  constructor({ signaling, media, relayOnly = false, accept = () => true, viewer = () => false, viaServer = null, e2ee = null }) {
    super();
    this.viaServer = viaServer;
    this.viewer = viewer;
    this.e2ee = e2ee;
    this.signaling = signaling;
    this.media = media;
    this.relayOnly = relayOnly;
    this.accept = accept;
    this.selfId = '';
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    /**
     * @type {Map<string, string[]>} per participant, the watchdog's rungs
     * over all their links (kept after a link closes: tests read how a
     * link healed, also when the room moved to the SFU)
     */
    this.ladders = new Map();
  }

  /**
   * start begins a session from a `welcome`: offer to everyone already
   * there, unless connect is false (the room uses the SFU).
   */
  start(welcome, { connect = true } = {}) {
    this.closeAll();
    this.selfId = welcome.id;
    this.iceServers = Array.isArray(welcome.iceServers) ? welcome.iceServers : [];
    if (!connect) return;
    for (const p of welcome.peers ?? []) this.connect(p);
  }

  /** connect opens a connection to a participant and makes the first offer. */
  connect({ id, name }) {
    const peer = this.add({ id, name });
    peer.open(true);
    return peer;
  }

  /** add records a participant (from welcome or peer-joined) without connecting. */
  add({ id, name }) {
    let peer = this.peers.get(id);
    if (!peer) {
      peer = new Peer(this, id, name);
      this.peers.set(id, peer);
    }
    return peer;
  }

  /** has reports whether we have a connection to a participant. */
  has(id) {
    return !!this.peers.get(id)?.pc;
  }

  /** remove closes and forgets a participant (peer-left). */
  remove(id) {
    const peer = this.peers.get(id);
    if (!peer) return null;
    this.peers.delete(id);
    peer.close();
    return peer;
  }

  /** onSignal handles a relayed `signal` message. */
  onSignal(from, data) {
    if (!data || typeof data !== 'object') return;
    let peer = this.peers.get(from);
    if (!peer?.pc && !this.accept(from, data)) return;
    // Normally peer-joined came first; be lenient if not.
    peer ??= this.add({ id: from, name: '' });
    if (!peer.pc) peer.open(false);
    peer.enqueue(() => peer.handle(data));
  }

  /** recheck re-routes a participant's media after their role changed (viewer or not). */
  recheck(id) {
    this.peers.get(id)?.routing.route();
  }

  /** localChanged pushes the local media state and tracks to every peer. */
  localChanged() {
    for (const peer of this.peers.values()) {
      if (!peer.pc) continue;
      peer.sendMedia();
      if (peer.attached) peer.enqueue(() => peer.syncSenders(), 'sync');
    }
  }

  closeAll() {
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }

  rtcConfig() {
    return {
      iceServers: this.iceServers,
      iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      ...this.e2ee?.rtcConfig(),
    };
  }

  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

export class Peer {
  constructor(mesh, id, name) {
    this.mesh = mesh;
    this.id = id;
    this.name = name;
    /** @type {WeakSet<RTCDtlsTransport>|undefined} transports watchTransports listens to (made on first use) */
    this.watched;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    this.state = 'new';
    this.polite = false;
    // Negotiation state (see the header).
    this.ignoreOffer = false; // impolite: the last remote offer collided and was ignored
    /** @type {RTCSessionDescriptionInit|null} polite: sent, not applied, awaiting its answer */
    this.pendingOffer = null;
    this.wantOffer = false; // negotiation is needed once the connection is stable
    this.glares = 0; // offers that collided with ours (for tests and debugging)
    /** @type {''|'sent'|'received'} which side made this link's first offer (tests prove who offered) */
    this.firstOffer = '';
    /** Our tracks were added (the initiator at once, the answerer at the first offer). */
    this.attached = false;
    /** @type {Record<string, Transceiver|null>} our sending transceiver per role */
    this.tx = { mic: null, cam: null, screen: null };
    /** the stream id each slot's sender announces (msid), to avoid no-op setStreams */
    this.msid = { mic: '', cam: '', screen: '' };
    /** @type {MediaStream|null} the stream every screen share on this link is sent in (see the header) */
    this.screenStream = null;
    /** Incoming streams and which is the camera / the screen share. */
    /** @type {LinkAdapt|null} our camera's encoding for their tile, and our reports of theirs (meshadapt.js) */
    this.adapt = null;
    this.routing = new RemoteStreams({
      show: (role, stream) => {
        if (role === 'camera') this.adapt?.setTrack(stream.getVideoTracks()[0] ?? null);
        this.fire('peer-stream', { peer: this, role, stream });
      },
      unshow: (role) => {
        if (role === 'camera') this.adapt?.setTrack(null);
        this.fire('peer-unstream', { peer: this, role });
      },
      accept: () => !mesh.viewer(id),
      trace: (w) => this.trace(w),
    });
    /** Frames of one of its streams (`mid:` keys) for senders without a stream. */
    this.midStreams = new Map();
    this.queue = Promise.resolve();
    this.queued = 0; // steps waiting or running in queue
    /** @type {{what: string, since: number}|null} the step running now */
    this.step = null;
    /** @type {string[]} the last negotiation steps, for failure dumps */
    this.traced = [];
    this.closed = false;
    /** the link has been connected once (its DTLS association exists) */
    this.everConnected = false;
    this.failedSince = 0;
    this.giveUpTimer = 0;
    this.restartTimer = 0;
    /** @type {{state: ''|'trying'|'failed', text: string}} the watchdog's verdict (peer-link) */
    this.link = { state: '', text: '' };
    /** @type {''|'restart'|'relay'|'server'|'failed'} the last recovery step taken */
    this.rescue = '';
    /** @type {string[]} the recovery steps taken, in order (tests read the ladder; Mesh.ladders keeps it) */
    this.ladder = [];
    if (!mesh.ladders.has(id)) mesh.ladders.set(id, []);
    this.ladderLog = mesh.ladders.get(id);
    this.linkTimer = 0;
  }

  /** fire sends a mesh event about this peer, unless the peer is closed. */
  fire(type, detail) {
    if (!this.closed) this.mesh.fire(type, detail);
  }

  /**
   * enqueue runs fn after every earlier signal of this peer was handled.
   * `step` names what runs now (tests dump it when a page hangs).
   */
  enqueue(fn, label = 'signal') {
    this.queued++;
    this.queue = this.queue.then(() => {
      this.step = { what: label, since: Date.now() };
      return fn();
    }).finally(() => {
      this.queued--;
      this.step = null;
    }).catch((err) => {
      if (!this.closed) console.error(`parley: peer ${this.name || this.id}:`, err);
    });
    return this.queue;
  }

  /** trace keeps the last few negotiation steps (tests dump them on failure). */
  trace(what) {
    this.traced.push(`${Date.now() % 100000} ${what}`);
    if (this.traced.length > TRACE_STEPS) this.traced.shift();
  }

  signal(data) {
    this.trace(`send ${describeSignal(data)}`);
    this.mesh.signaling.signal(this.id, data);
  }

  /** sendMedia announces our media; a screen share under this link's stream (see the header). */
  sendMedia() {
    const m = this.mesh.media.describe();
    this.signal({ media: m.screen ? { ...m, screen: this.sendStream('screen').id } : m });
  }

  /** sendStream is the stream a slot's track is sent in: our camera stream, or this link's screen stream. */
  sendStream(role) {
    if (role !== 'screen') return this.mesh.media.camera;
    this.screenStream ??= new MediaStream();
    return this.screenStream;
  }

  /** open creates the connection; an initiator adds its tracks (→ offer) at once. */
  open(initiator) {
    if (this.pc || this.closed) return;
    this.polite = this.mesh.selfId < this.id;
    const pc = new RTCPeerConnection(this.mesh.rtcConfig());
    this.pc = pc;
    this.setState('connecting');
    pc.addEventListener('icecandidate', ({ candidate }) => {
      this.signal({ candidate: candidate ? candidate.toJSON() : null });
    });
    pc.addEventListener('negotiationneeded', () => this.enqueue(() => this.negotiate(), 'negotiate'));
    pc.addEventListener('track', (ev) => this.onTrack(ev));
    pc.addEventListener('connectionstatechange', () => this.onConnectionState());
    this.watchLink(pc, LINK_CONNECT_MS);
    // Announce our stream ids before the first offer or answer carries them.
    this.sendMedia();
    if (initiator) {
      // All three m-lines now, receive-only until syncSenders attaches tracks:
      // one negotiationneeded, one offer.
      for (const [role, kind] of SLOTS) this.tx[role] = pc.addTransceiver(kind, { direction: 'recvonly' });
      this.mesh.e2ee?.attachAll(pc, this.id);
      this.channelsReady(); // data channels after the media: the 4th m-line
      this.enqueue(() => this.syncSenders(), 'sync');
    }
  }

  /**
   * channelsReady lets the message layer (channels.js, event
   * `peer-channels`) make its pre-negotiated data channels: the initiator
   * before its first offer, the answerer once it applied an offer with a
   * data section (so it never asks for one of its own).
   */
  channelsReady() {
    if (this.dataChannels || !this.pc) return;
    this.dataChannels = true;
    // Mesh adaptation's own channel (meshadapt.js), pre-negotiated like the others.
    const dc = this.pc.createDataChannel(VIEW_CHANNEL.label, { negotiated: true, id: VIEW_CHANNEL.id, ordered: true });
    this.adapt = new LinkAdapt({ channel: dc, sender: () => this.tx.cam?.sender ?? null });
    this.adapt.setTrack(this.routing.shown.camera?.getVideoTracks()[0] ?? null);
    this.fire('peer-channels', { peer: this });
  }

  /** claim adopts the transceivers a remote offer created, in m-line order. */
  claim() {
    const all = /** @type {Transceiver[]} */ (this.pc.getTransceivers()).filter((t) => !t.stopped && t.mid !== null);
    const free = (kind) => all.find((t) => t.receiver.track.kind === kind && !Object.values(this.tx).includes(t));
    for (const [role, kind] of SLOTS) this.tx[role] ??= free(kind) ?? null;
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
    this.firstOffer ||= 'sent';
    if (this.polite && pc.currentLocalDescription) {
      const offer = await pc.createOffer();
      this.pendingOffer = offer;
      this.signal({ description: this.outgoing(offer) });
      return;
    }
    await pc.setLocalDescription();
    this.signal({ description: this.outgoing(pc.localDescription) });
  }

  /**
   * outgoing is a description as it is sent: repaired for the other
   * browser, and an offer on a link that has a DTLS role but has never
   * connected states that role (sdp.js keepDtlsRole: Firefox would
   * otherwise take the other role after an ICE restart, which Chromium
   * refuses). A link that connected keeps its DTLS association in both
   * browsers; its offers go as they are.
   */
  outgoing(desc) {
    const pc = this.pc;
    if (!pc || this.everConnected) return sanitizeDescription(desc);
    const role = dtlsRole(pc.currentLocalDescription?.sdp, pc.currentRemoteDescription?.sdp);
    return keepDtlsRole(sanitizeDescription(desc), role);
  }

  /** handle processes one signal payload (serialized by enqueue). */
  async handle(data) {
    const pc = this.pc;
    if (!pc || this.closed) return;
    this.trace(`recv ${describeSignal(data)} [${pc.signalingState}${this.pendingOffer ? ' pending' : ''}]`);
    if (data.media && typeof data.media === 'object') {
      this.onRemoteMedia(data.media);
    }
    const description = data.description;
    if (description && typeof description === 'object') {
      if (description.type === 'offer') {
        this.firstOffer ||= 'received';
        const collision = pc.signalingState !== 'stable' || !!this.pendingOffer;
        if (collision) this.glares++;
        this.ignoreOffer = collision && !this.polite;
        if (this.ignoreOffer) return; // ours wins; the polite side will answer it
        if (this.pendingOffer) {
          // Glare, and we are polite: drop our (never applied) offer.
          this.pendingOffer = null;
          this.wantOffer = true;
        }
        await pc.setRemoteDescription(sanitizeDescription(description));
        this.mesh.e2ee?.attachAll(pc, this.id); // transceivers the offer created
        if (/\nm=application /.test(description.sdp ?? '')) this.channelsReady();
        if (!this.attached) {
          this.claim();
          await this.syncSenders(); // our tracks ride in the answer
        }
        await pc.setLocalDescription();
        this.signal({ description: this.outgoing(pc.localDescription) });
      } else if (description.type === 'answer') {
        if (this.pendingOffer) {
          const offer = this.pendingOffer;
          this.pendingOffer = null;
          await pc.setLocalDescription(offer);
        }
        if (pc.signalingState !== 'have-local-offer') return; // an answer to an offer we dropped
        await pc.setRemoteDescription(sanitizeDescription(description));
      }
      // ('rollback' is never sent by this client and needs nothing here.)
      if (this.wantOffer && pc.signalingState === 'stable') await this.negotiate();
    }
    if ('candidate' in data) {
      try {
        if (data.candidate) await pc.addIceCandidate(data.candidate);
        else await pc.addIceCandidate(); // end of candidates
      } catch (err) {
        if (!this.ignoreOffer && data.candidate) throw err;
      }
    }
  }

  /**
   * syncSenders makes our transceivers send exactly the local tracks. A
   * changed track is swapped with replaceTrack (no renegotiation); starting
   * or stopping to send on a slot changes its direction (renegotiated, so the
   * remote side's track starts or ends). A camera turned off keeps sending
   * nothing on its slot without renegotiation; the `media` payload says so.
   */
  async syncSenders() {
    const pc = this.pc;
    if (!pc || this.closed) return;
    this.attached = true;
    const media = this.mesh.media;
    for (const [role] of SLOTS) {
      const track = media.track(role);
      let tx = this.tx[role];
      if (tx && tx.stopped) tx = this.tx[role] = null;
      if (!tx) {
        // Only with a peer that offered fewer m-lines than we use.
        if (track) {
          const stream = this.sendStream(role);
          const sender = pc.addTrack(track, stream);
          this.mesh.e2ee?.attachAll(pc, this.id);
          this.tx[role] = pc.getTransceivers().find((t) => t.sender === sender) ?? null;
          this.msid[role] = stream.id;
        }
        continue;
      }
      if (tx.sender.track !== track) await tx.sender.replaceTrack(track);
      if (track) {
        const stream = this.sendStream(role);
        if (this.msid[role] !== stream.id) {
          tx.sender.setStreams(stream); // once per slot: every screen share goes in the same stream
          this.msid[role] = stream.id;
        }
        if (tx.direction === 'recvonly') tx.direction = 'sendrecv';
        else if (tx.direction === 'inactive') tx.direction = 'sendonly';
      } else if (role === 'screen') {
        if (tx.direction === 'sendrecv') tx.direction = 'recvonly';
        else if (tx.direction === 'sendonly') tx.direction = 'inactive';
      }
    }
    this.adapt?.apply(); // a new camera track: its size decides the scale
  }

  /** What the remote told us in its `media` payload. */
  get remote() {
    return this.routing.remote;
  }

  /** @type {{camera: MediaStream|null, screen: MediaStream|null}} what peer-stream announced */
  get shown() {
    return this.routing.shown;
  }

  onTrack(ev) {
    this.mesh.e2ee?.attachAll(this.pc, this.id); // (normally attached already)
    const track = ev.track;
    if (this.mesh.viewer(this.id)) {
      // A viewer may not send (docs/access.md): whatever arrives is dropped.
      this.trace(`ignored a ${track.kind} track from a viewer`);
      return;
    }
    let stream = ev.streams[0];
    this.trace(`track ${track.kind} mid=${ev.transceiver.mid} in ${ev.streams.map((x) => x.id.slice(0, 8)).join(',') || '-'}`);
    if (!stream) {
      // A sender without a stream (not our client): one stream per transceiver.
      const key = `mid:${ev.transceiver.mid}`;
      stream = this.midStreams.get(key) ?? new MediaStream();
      if (!stream.getTracks().includes(track)) stream.addTrack(track);
      this.midStreams.set(key, stream);
      this.routing.streams.set(key, stream);
    }
    this.routing.add(stream, track, () => this.fire('peer-media', { peer: this }));
  }

  onRemoteMedia(m) {
    this.routing.setMedia(m);
    this.fire('peer-media', { peer: this });
  }

  /** videoMuted reports whether the camera video is not arriving (track muted). */
  videoMuted() {
    return this.routing.videoMuted();
  }

  onConnectionState() {
    const pc = this.pc;
    if (!pc || this.closed) return;
    switch (pc.connectionState) {
      case 'connected':
        this.everConnected = true;
        this.watchTransports();
        this.failedSince = 0;
        clearTimeout(this.giveUpTimer);
        clearInterval(this.restartTimer);
        clearTimeout(this.linkTimer);
        this.setLink('', '');
        this.setState('connected');
        break;
      case 'disconnected':
        this.setState('reconnecting');
        break;
      case 'failed': {
        this.setState('reconnecting');
        if (!this.failedSince) {
          this.failedSince = Date.now();
          this.setLink('trying', this.tryingText());
          this.watchLink(pc, LINK_STEP_MS);
          const giveUp = () => {
            if (this.pc !== pc || pc.connectionState !== 'failed') return;
            if (this.relayPossible() || this.serverPossible()) {
              // Not before the relay path and the SFU had their chance.
              this.rescueStep(pc);
              this.giveUpTimer = setTimeout(giveUp, FAILED_GIVE_UP_MS);
              return;
            }
            this.setState('failed');
            this.fire('peer-gone', { peer: this });
          };
          this.giveUpTimer = setTimeout(giveUp, FAILED_GIVE_UP_MS);
          // ICE restart (→ negotiationneeded → an offer with new credentials),
          // again every few seconds while it stays failed.
          pc.restartIce();
          this.restartTimer = setInterval(() => {
            if (this.pc === pc && !this.closed && pc.connectionState === 'failed') pc.restartIce();
          }, ICE_RESTART_SPACING_MS);
        }
        break;
      }
      case 'closed':
        // Only our own close() gets here in today's browsers.
        this.setState('failed');
        break;
      default:
        break;
    }
  }

  /**
   * watchTransports notices the remote end closing its connection (DTLS
   * close_notify: its tab closed, or it left): the transport turns `closed`
   * within milliseconds, while ICE would take seconds to notice.
   */
  watchTransports() {
    const pc = this.pc;
    this.watched ??= new WeakSet();
    for (const rtp of [...pc.getSenders(), ...pc.getReceivers()]) {
      const t = rtp.transport;
      if (!t || this.watched.has(t)) continue;
      this.watched.add(t);
      t.addEventListener('statechange', () => {
        if (t.state === 'closed' && !this.closed && this.pc === pc) {
          this.setState('failed');
          this.fire('peer-gone', { peer: this });
        }
      });
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.fire('peer-state', { peer: this });
  }

  // --- link health (see the header) -------------------------------------

  /** watchLink checks the link after ms, unless it connects first. */
  watchLink(pc, ms) {
    clearTimeout(this.linkTimer);
    this.linkTimer = setTimeout(() => {
      if (this.closed || this.pc !== pc || pc.connectionState === 'connected') return;
      this.rescueStep(pc);
      this.watchLink(pc, LINK_STEP_MS);
    }, ms);
  }

  /** relayPossible: the relay-only rung is still to come and there is a TURN server for it. */
  relayPossible() {
    if ((this.rescue !== '' && this.rescue !== 'restart') || this.mesh.relayOnly) return false;
    return this.mesh.iceServers.some((s) => [s.urls].flat().some((u) => /^turns?:/.test(String(u))));
  }

  /** serverPossible: asking the server to carry the room (the SFU) is still to come. */
  serverPossible() {
    return this.rescue !== 'server' && this.rescue !== 'failed' && !!this.mesh.viaServer;
  }

  tryingText() {
    return `Can't connect directly to ${this.name || 'this participant'} — trying another way`;
  }

  /** rescueStep takes the next rung of the recovery ladder. */
  rescueStep(pc) {
    if (this.rescue === '') {
      this.rescue = 'restart';
      this.setLink('trying', this.tryingText());
    } else if (this.relayPossible()) {
      this.rescue = 'relay';
      this.trace('link: relay only');
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceTransportPolicy: 'relay' });
      } catch (err) {
        console.warn(`parley: peer ${this.name || this.id}: cannot switch to relay only:`, err.message);
      }
    } else if (this.serverPossible()) {
      // Nothing left to try alone: the room moves to the SFU (an auto
      // room; otherwise the server refuses and the next rung says so).
      this.rescue = 'server';
      this.setLink('trying', `Can't connect directly to ${this.name || 'this participant'} — trying through the server`);
      this.mesh.viaServer?.(this.id);
    } else {
      this.rescue = 'failed';
      this.setLink('failed', `Can't connect to ${this.name || 'this participant'}. Still trying…`);
    }
    this.ladder.push(this.rescue);
    this.ladderLog.push(this.rescue);
    this.trace(`link: ${this.rescue}`);
    const step = this.rescue;
    this.enqueue(async () => {
      if (this.closed || this.pc !== pc) return;
      // Nothing negotiated yet: we wait for the other side's first offer
      // (its own watchdog acts). An offer from here would have no m-line.
      if (!pc.localDescription && !pc.remoteDescription && !this.attached) return;
      if (pc.signalingState === 'have-local-offer') {
        if (step === 'restart') {
          // Unanswered for 10 s: maybe lost, maybe only slow (a loaded
          // machine). Send it again; a rollback now could pair its late
          // answer with the next offer.
          this.signal({ description: this.outgoing(pc.localDescription) });
          return;
        }
        // Unanswered for 20 s or more (the other side refused it): it
        // blocks every later offer, so take it back.
        await pc.setLocalDescription({ type: 'rollback' });
      }
      this.pendingOffer = null;
      pc.restartIce(); // → negotiationneeded → an offer with new credentials
    }, 'rescue');
  }

  /** setLink changes the watchdog's verdict (peer-link). */
  setLink(state, text) {
    if (this.link.state === state && this.link.text === text) return;
    this.link = { state, text };
    this.fire('peer-link', { peer: this });
  }

  close() {
    if (this.closed) return;
    this.setLink('', '');
    this.closed = true;
    this.adapt?.close();
    this.routing.close();
    clearTimeout(this.giveUpTimer);
    clearInterval(this.restartTimer);
    clearTimeout(this.linkTimer);
    if (this.pc) this.pc.close();
  }
}
