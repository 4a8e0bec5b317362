// The E2EE controller (docs/e2ee.md), on the main thread: owns our identity
// (ECDH pair), our sending key (SenderKeys), what we know of each peer
// (announced public key, its authentication, safety code, media health),
// and the worker that transforms frames (e2ee-worker.js). It runs the key
// exchange over `key` messages and attaches the worker to our senders and
// receivers, the same way in mesh and SFU mode: a switch needs no key
// exchange.
//
// Events (CustomEvents):
//   peer   {id, info}  a peer's E2EE state changed (see peerInfo)
//   forged {id}        a peer's public key announcement failed its MAC
//
// Data API for chat, files, pointer, reactions (the data-channel layer):
//   sealData(bytes) → SFrame ciphertext under our data key
//   openData(senderId, bytes) → plaintext; throws when it does not open
// With encryption off (disable(): a room an administrator allowed
// unencrypted, docs/e2ee.md) both return the bytes as they are.

import {
  Identity, SenderKeys, KeyRing, roomMacKey, announcement, checkAnnouncement,
  wrapMediaKey, unwrapMediaKey, safetyCode, dataBaseKey, splitKid, b64,
} from './keys.js';
import { SFrameKey, sframeEncrypt, sframeDecrypt, decodeHeader } from './sframe.js';

/**
 * After a leave, the new key is sent at once but used only this much
 * later, so receivers have it before the first frame it encrypts.
 */
export const KEY_SWITCH_DELAY_MS = 1000;

/**
 * Frames that fail before a peer's key has arrived count as "failing" only
 * this long after the peer appeared: the first frames of a call always
 * arrive before the key exchange is over.
 */
export const KEY_WAIT_MS = 4000;

const EMPTY = new Uint8Array(0);

/**
 * transformSupport says which encoded-transform API this browser has:
 * 'script' (RTCRtpScriptTransform), 'streams' (createEncodedStreams) or ''.
 */
export function transformSupport() {
  if (typeof globalThis.RTCRtpScriptTransform === 'function') return 'script';
  if (typeof globalThis.RTCRtpSender?.prototype?.createEncodedStreams === 'function') return 'streams';
  return '';
}

/**
 * roomSecretFromHash reads the room secret from a URL fragment "#k=…"
 * (base64url, ≥ 16 bytes), or returns null.
 */
export function roomSecretFromHash(hash) {
  const m = /(?:^#|&)k=([A-Za-z0-9_-]{22,})/.exec(hash ?? '');
  if (!m) return null;
  try {
    const b = b64.decode(m[1]);
    return b.length >= 16 ? b : null;
  } catch {
    return null;
  }
}

/** newRoomSecret returns a fresh "k=…" fragment value (16 random bytes). */
export function newRoomSecret() {
  return b64.encode(crypto.getRandomValues(new Uint8Array(16)));
}

/** The peer record the controller keeps (one per announced participant). */
class PeerKeys {
  constructor(id) {
    this.id = id;
    /** 'verified' | 'unverified' | 'forged' | '' (nothing announced yet) */
    this.auth = '';
    /** @type {Uint8Array|null} */
    this.pub = null;
    this.tag = -1;
    /** @type {CryptoKey|null} pairwise wrap key */
    this.wrap = null;
    this.code = '';
    /** 'waiting' (no frame yet) | 'ok' | 'failing' */
    this.media = 'waiting';
    this.decrypted = 0;
    this.failed = 0;
    this.gotKey = false;
    /** key payloads that came before the announcement */
    this.pending = [];
    this.since = Date.now();
  }

  /** state is what the tile's badge shows. */
  get state() {
    if (this.auth === 'forged') return 'forged';
    if (this.media === 'failing') return 'failing';
    return this.auth || 'unverified';
  }
}

export class E2EE extends EventTarget {
  /**
   * @param {{signaling: import('./signaling.js').Signaling,
   *          secret: Uint8Array|null, enabled?: boolean}} o
   *   secret: the room secret from the invite link (#k=…), or null.
   */
  constructor({ signaling, secret, enabled = true }) {
    super();
    this.sig = signaling;
    this.secret = secret;
    this.mode = enabled ? transformSupport() : '';
    this.enabled = enabled && this.mode !== '';
    this.selfId = '';
    /** @type {Identity|null} */
    this.identity = null;
    /** @type {CryptoKey|null} */
    this.macKey = null;
    /** @type {SenderKeys|null} */
    this.sender = null;
    /** the key our frames and data use now (a new one after a leave waits KEY_SWITCH_DELAY_MS) */
    this.active = { kid: 0, raw: EMPTY };
    this.switchTimer = 0;
    /** @type {Map<string, PeerKeys>} */
    this.peers = new Map();
    this.dataRing = new KeyRing({ derive: async (raw, kid) => SFrameKey.derive(await dataBaseKey(raw), kid) });
    /** our data key by KID, and its counter */
    this.dataSend = { kid: -1, key: null, ctr: 0n };
    /** frames decrypted and failed since the last takeCounts (health reports) */
    this.unreported = { decrypted: 0, failed: 0 };
    this.attached = new WeakSet();
    this.stats = { encrypted: 0, dropped: 0, timing: null };
    this.keysSent = 0;
    this.chain = Promise.resolve();
    this.worker = null;
    if (this.enabled) {
      this.worker = new Worker(new URL('./e2ee-worker.js', import.meta.url), { type: 'module', name: 'parley-e2ee' });
      this.worker.addEventListener('message', ({ data }) => this.onWorker(data));
      this.worker.addEventListener('error', (ev) => console.error('parley: e2ee worker:', ev.message));
    }
  }

  /** rtcConfig is what RTCPeerConnection configurations need for our transforms. */
  rtcConfig() {
    return this.mode === 'streams' && this.enabled ? { encodedInsertableStreams: true } : {};
  }

  /** inOrder runs key work one step at a time (announcements before keys). */
  inOrder(fn) {
    this.chain = this.chain.then(fn).catch((err) => console.warn('parley: e2ee:', err));
    return this.chain;
  }

  /**
   * start begins a session (every `welcome`): our id, a fresh sending key,
   * and our announcement to everyone in the room.
   */
  start(selfId) {
    if (!this.enabled) return Promise.resolve();
    return this.inOrder(async () => {
      this.selfId = selfId;
      this.identity ??= await Identity.generate();
      this.macKey ??= await roomMacKey(this.secret);
      for (const id of this.peers.keys()) this.forgetPeer(id);
      this.sender = new SenderKeys();
      this.useKey(this.sender.kid, this.sender.raw);
      this.sig.key(await announcement(this.identity, selfId, this.sender.tag, this.macKey));
    });
  }

  /** useKey makes a key the one our frames and data use. */
  useKey(kid, raw) {
    clearTimeout(this.switchTimer);
    this.active = { kid, raw };
    this.worker?.postMessage({ type: 'send-key', kid, raw });
  }

  /** peerJoined ratchets our key: the newcomer gets it, not the ones before. */
  peerJoined(id) {
    if (!this.enabled) return;
    this.inOrder(async () => {
      if (!this.sender) return;
      this.peer(id);
      const kid = await this.sender.onJoin();
      // Receivers who had the previous key ratchet it themselves.
      this.useKey(kid, this.sender.raw);
    });
  }

  /** peerLeft switches to a fresh key, sent to everyone left before it is used. */
  peerLeft(id) {
    if (!this.enabled) return;
    this.inOrder(async () => {
      this.forgetPeer(id);
      if (!this.sender) return;
      const kid = this.sender.onLeave();
      const raw = this.sender.raw;
      for (const p of this.peers.values()) await this.sendKey(p);
      clearTimeout(this.switchTimer);
      this.switchTimer = setTimeout(() => {
        if (this.sender?.kid === kid) this.useKey(kid, raw);
      }, KEY_SWITCH_DELAY_MS);
    });
  }

  peer(id) {
    let p = this.peers.get(id);
    if (!p) {
      p = new PeerKeys(id);
      this.peers.set(id, p);
    }
    return p;
  }

  forgetPeer(id) {
    this.peers.delete(id);
    this.dataRing.forget(id);
    this.worker?.postMessage({ type: 'forget', peer: id });
  }

  /** onKey handles a relayed `key` message. */
  onKey(from, data) {
    if (!this.enabled || !data || typeof data !== 'object' || typeof from !== 'string') return;
    this.inOrder(async () => {
      if (!this.identity) return;
      if (data.t === 'pub') await this.onAnnouncement(from, data);
      else if (data.t === 'key') await this.onWrappedKey(from, data);
    });
  }

  async onAnnouncement(from, msg) {
    let checked;
    try {
      checked = await checkAnnouncement(msg, from, this.macKey);
    } catch (err) {
      console.warn(`parley: e2ee: bad announcement from ${from}:`, err.message);
      return;
    }
    const p = this.peer(from);
    if (p.conflict) return; // see below: no announcement for this id is believed again
    const same = p.pub && b64.encode(p.pub) === b64.encode(checked.pub) && p.tag === checked.tag;
    if (same) {
      // The same key again (an answer to a newcomer): it may add a MAC,
      // never take one away.
      if (checked.auth !== 'verified' || p.auth === 'verified') return;
    } else if (p.pub && p.auth !== 'forged') {
      // A participant's key and tag are fixed for its session (a resume
      // keeps them), so a different one for the same id comes from the
      // server, whatever its MAC says.
      p.conflict = true;
      this.forged(p, `${from} announced a second public key mid-call`);
      return;
    }
    // Tags are per sender: one another participant announced is refused.
    if (checked.auth !== 'forged' && !this.dataRing.setTag(from, checked.tag)) {
      this.forged(p, `${from} announced the tag of ${this.dataRing.tags.get(checked.tag)}`);
      return;
    }
    p.auth = checked.auth;
    p.pub = checked.pub;
    p.tag = checked.tag;
    p.code = await safetyCode(this.identity.pub, checked.pub);
    if (checked.auth === 'forged') {
      this.forged(p, `the public key announced for ${from} failed authentication`);
      return;
    }
    p.wrap = await this.identity.wrapKeyFor(this.selfId, from, checked.pub);
    this.worker?.postMessage({ type: 'tag', peer: from, tag: checked.tag });
    // Answer a newcomer's announcement with ours (once per new key), then our key.
    this.sig.key(await announcement(this.identity, this.selfId, this.sender.tag, this.macKey), from);
    await this.sendKey(p);
    const pending = p.pending;
    p.pending = [];
    for (const m of pending) await this.onWrappedKey(from, m);
    this.emit(p);
  }

  /** forged marks p: no key goes to a key the server may have made up. */
  forged(p, why) {
    p.auth = 'forged';
    p.wrap = null;
    console.warn(`parley: e2ee: ${why}`);
    this.emit(p);
    this.dispatchEvent(new CustomEvent('forged', { detail: { id: p.id } }));
  }

  /** sendKey wraps our newest key for one peer (never for a forged one). */
  async sendKey(p) {
    if (!p.wrap || p.auth === 'forged' || !this.sender) return;
    const msg = await wrapMediaKey(p.wrap, this.sender.kid, this.sender.raw, this.selfId, p.id);
    this.keysSent++;
    this.sig.key(msg, p.id);
  }

  async onWrappedKey(from, msg) {
    const p = this.peer(from);
    if (p.auth === 'forged') return;
    if (!p.wrap) {
      if (p.pending.length < 8) p.pending.push(msg);
      return;
    }
    let raw;
    try {
      raw = await unwrapMediaKey(p.wrap, msg, from, this.selfId);
    } catch (err) {
      console.warn(`parley: e2ee: a key from ${from} did not open:`, err.message);
      return;
    }
    if (splitKid(msg.kid).tag !== p.tag) {
      console.warn(`parley: e2ee: ${from} sent a key for another sender's KID`);
      return;
    }
    if (!this.dataRing.add(from, msg.kid, raw)) {
      console.warn(`parley: e2ee: ${from} sent a key that is retired or not its own (KID ${msg.kid})`);
      return;
    }
    p.gotKey = true;
    this.worker?.postMessage({ type: 'add-key', peer: from, kid: msg.kid, raw });
    this.emit(p);
  }

  onWorker(m) {
    if (!m || m.type !== 'stats') return;
    this.stats = { encrypted: m.encrypted, dropped: m.dropped, timing: m.timing };
    for (const [id, c] of Object.entries(m.peers ?? {})) {
      const p = this.peers.get(id);
      if (!p) continue;
      const dd = c.decrypted - p.decrypted;
      const df = c.failed - p.failed;
      p.decrypted = c.decrypted;
      p.failed = c.failed;
      this.unreported.decrypted += Math.max(0, dd);
      this.unreported.failed += Math.max(0, df);
      const before = p.state;
      if (dd > 0) p.media = 'ok';
      else if (df > 0 && (p.gotKey || Date.now() - p.since > KEY_WAIT_MS)) p.media = 'failing';
      if (p.state !== before || df > 0) this.emit(p);
    }
  }

  emit(p) {
    this.dispatchEvent(new CustomEvent('peer', { detail: { id: p.id, info: this.peerInfo(p.id) } }));
  }

  /**
   * peerInfo: {state ('verified'|'unverified'|'forged'|'failing'), auth,
   * media ('waiting'|'ok'|'failing'), code (safety code), decrypted,
   * failed, gotKey}, or null for someone we know nothing of.
   */
  peerInfo(id) {
    const p = this.peers.get(id);
    if (!p) return null;
    return {
      state: p.state, auth: p.auth || 'unverified', media: p.media, code: p.code,
      decrypted: p.decrypted, failed: p.failed, gotKey: p.gotKey,
    };
  }

  // --- transforms -----------------------------------------------------

  /** attachSender encrypts what a sender sends (kind: 'audio'|'video'). */
  attachSender(sender, kind) {
    if (!this.enabled || this.attached.has(sender)) return;
    this.attached.add(sender);
    this.transform(sender, { op: 'encrypt', kind });
  }

  /**
   * attachReceiver decrypts what a receiver gets; peerId null when the
   * sender is not known (SFU): the KID's tag then says whose key it is.
   */
  attachReceiver(receiver, peerId) {
    if (!this.enabled || this.attached.has(receiver)) return;
    this.attached.add(receiver);
    this.transform(receiver, { op: 'decrypt', kind: receiver.track.kind, peer: peerId ?? '' });
  }

  transform(senderOrReceiver, options) {
    if (this.mode === 'script') {
      senderOrReceiver.transform = new RTCRtpScriptTransform(this.worker, options);
      return;
    }
    const { readable, writable } = senderOrReceiver.createEncodedStreams();
    this.worker.postMessage({ type: 'stream', readable, writable, options }, [readable, writable]);
  }

  /**
   * attachAll attaches every transceiver of pc not attached yet, and
   * forces VP8 and Opus on it. Call it right after addTransceiver /
   * addTrack / setRemoteDescription: a transform set later (in ontrack) on
   * a transceiver our own code made does nothing.
   */
  attachAll(pc, peerId) {
    if (!this.enabled) return;
    for (const t of pc.getTransceivers()) {
      if (t.stopped || t.currentDirection === 'stopped') continue;
      const kind = t.receiver.track.kind;
      if (!this.attached.has(t.sender)) preferCodecs(t, kind);
      this.attachSender(t.sender, kind);
      this.attachReceiver(t.receiver, peerId);
    }
  }

  // --- data -------------------------------------------------------------

  /** sealData encrypts bytes for the room under our current data key (SFrame, RFC form). */
  async sealData(bytes) {
    if (!this.enabled) return bytes;
    const { kid, raw } = this.active;
    if (!raw.length) throw new Error('e2ee: no key yet');
    // The key (a promise) and the counter are taken before any await, so
    // concurrent calls can never use one nonce twice (AES-GCM's one rule).
    if (this.dataSend.kid !== kid) {
      this.dataSend = { kid, key: dataBaseKey(raw).then((base) => SFrameKey.derive(base, kid)), ctr: 0n };
    }
    const s = this.dataSend;
    const ctr = s.ctr++;
    return sframeEncrypt(await s.key, ctr, EMPTY, bytes);
  }

  /** openData decrypts bytes sealed by senderId; throws when they do not open. */
  async openData(senderId, bytes) {
    if (!this.enabled) return bytes;
    const { kid, ctr } = decodeHeader(bytes);
    if (this.dataRing.peerOf(kid) !== senderId) throw new Error(`e2ee: no key of ${senderId} for this message`);
    const entry = await this.dataRing.lookup(kid);
    if (!entry || entry.peer !== senderId) throw new Error(`e2ee: no key of ${senderId} for this message`);
    const pt = await sframeDecrypt(await entry.key, EMPTY, bytes);
    this.dataRing.confirm(entry);
    if (!this.dataRing.fresh(entry, ctr)) throw new Error(`e2ee: a replayed message from ${senderId}`);
    return pt;
  }

  /**
   * takeCounts returns the frames decrypted and failed since the last call,
   * for the anonymous health report the server aggregates (`stats`).
   */
  takeCounts() {
    const c = this.unreported;
    this.unreported = { decrypted: 0, failed: 0 };
    return c;
  }

  /** info is the debug view for tests (window.parley.e2ee()). */
  info() {
    return {
      enabled: this.enabled,
      mode: this.mode,
      verifiable: !!this.secret,
      kid: this.active.kid,
      keysSent: this.keysSent,
      encrypted: this.stats.encrypted,
      dropped: this.stats.dropped,
      timing: this.stats.timing,
      peers: Object.fromEntries([...this.peers.keys()].map((id) => [id, this.peerInfo(id)])),
    };
  }

  /**
   * disable turns encryption off before the call starts, for a room an
   * administrator allowed unencrypted (welcome.e2ee false). call.js calls
   * it only under roomcrypto.js's rules: never once a call encrypts.
   */
  disable() {
    this.worker?.terminate();
    this.worker = null;
    this.enabled = false;
  }

  close() {
    clearTimeout(this.switchTimer);
    this.worker?.terminate();
    this.worker = null;
    this.enabled = false;
  }
}

/** preferCodecs keeps VP8 (with its retransmissions) or Opus on a transceiver. */
function preferCodecs(t, kind) {
  try {
    const caps = RTCRtpReceiver.getCapabilities(kind)?.codecs ?? [];
    const keep = kind === 'video' ? ['video/vp8', 'video/rtx'] : ['audio/opus'];
    const codecs = caps.filter((c) => keep.includes(c.mimeType.toLowerCase()));
    if (codecs.length) t.setCodecPreferences(codecs);
  } catch (err) {
    console.warn('parley: e2ee: could not force VP8/Opus:', err.message);
  }
}
