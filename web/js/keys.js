// The E2EE key schedule (docs/e2ee.md), DOM-free, WebCrypto only:
//
// - identity: an ECDH P-256 key pair per session; the private key is not
//   extractable. Its public key is announced in `key` messages,
//   authenticated with an HMAC whose key is derived (HKDF) from the room
//   secret of the invite link (#k=…), when there is one.
// - pairwise wrap key: HKDF-SHA256 over the ECDH secret, bound to both
//   participant ids (sorted), for AES-GCM wrapping of media keys.
// - sender keys (SenderKeys): each sender has its own random 16-byte media
//   key (the SFrame base_key). On a join it ratchets forward,
//   key' = HKDF(key, "parley ratchet v1"), so the newcomer cannot read
//   earlier frames; on a leave it switches to a fresh random key, so the
//   leaver cannot read later ones. KID = tag · 2^16 + epoch, where tag is a
//   random 24-bit number per sender and session and epoch counts key
//   changes: receivers find the sender and the generation from the KID.
// - receivers (KeyRing): keep every sender's keys by KID, derive ratcheted
//   keys themselves (no message needed on a join), and keep a sender's
//   older keys for GRACE_MS after a newer one is first used, so no frame
//   in flight is lost at a key change.
// - data keys: chat, files, pointer and reactions are sealed with a key
//   derived from the sender's media key, HKDF(key, "parley data v1").
//
// Keys live in memory only.

import { SFrameKey, concat } from './sframe.js';
import { ReplayWindow } from './replay.js';

/** Receivers keep a sender's previous keys this long after a newer one is used. */
export const GRACE_MS = 2000;
/** A receiver derives at most this many ratchet steps ahead of the newest key it has. */
export const MAX_RATCHET_STEPS = 16;
/** Epochs per tag before the KID's epoch part wraps around. */
export const EPOCHS = 0x10000;

const enc = new TextEncoder();
const subtle = globalThis.crypto.subtle;

export const b64 = {
  /** encode bytes as base64url without padding. */
  encode(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
  },
  /** decode base64url (or base64); throws on garbage. */
  decode(str) {
    if (typeof str !== 'string' || !/^[A-Za-z0-9_\-+/]*={0,2}$/.test(str)) throw new Error('bad base64');
    const s = atob(str.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  },
};

/** hkdf derives n bytes from ikm with HKDF-SHA256 (empty salt) and an info label. */
export async function hkdf(ikm, info, n = 16, salt = new Uint8Array(0)) {
  const k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: enc.encode(info) }, k, n * 8);
  return new Uint8Array(bits);
}

/** randomKey returns a fresh random 16-byte media key. */
export function randomKey() {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** ratchet is the next key of a sender's chain (on every join). */
export function ratchet(raw) {
  return hkdf(raw, 'parley ratchet v1');
}

/** dataBaseKey is the SFrame base_key for a sender's sealed data, from its media key. */
export function dataBaseKey(raw) {
  return hkdf(raw, 'parley data v1');
}

/** makeKid builds the SFrame KID of a sender's key generation. */
export function makeKid(tag, epoch) {
  return tag * EPOCHS + (epoch % EPOCHS);
}

/** splitKid returns {tag, epoch} of a KID (number or BigInt). */
export function splitKid(kid) {
  const k = Number(kid);
  return { tag: Math.floor(k / EPOCHS), epoch: k % EPOCHS };
}

// --- identity and announcements -------------------------------------------

/** Identity is our ECDH key pair for this session. */
export class Identity {
  /** @param {CryptoKeyPair} pair @param {Uint8Array} pub raw (65-byte) public key */
  constructor(pair, pub) {
    this.privateKey = pair.privateKey;
    this.pub = pub;
  }

  /** generate makes a P-256 pair whose private key cannot be exported. */
  static async generate() {
    const pair = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
    const pub = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
    return new Identity(pair, pub);
  }

  /**
   * wrapKeyFor derives the AES-GCM key that wraps media keys between us
   * and one peer: HKDF(ECDH(our private, their public), "parley wrap v1",
   * the two ids sorted). Both ends get the same key.
   */
  async wrapKeyFor(selfId, peerId, peerPub) {
    const pub = await subtle.importKey('raw', peerPub, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
    const secret = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: pub }, this.privateKey, 256));
    const ids = [selfId, peerId].sort();
    const raw = await hkdf(secret, `parley wrap v1\0${ids[0]}\0${ids[1]}`, 16);
    return subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  }
}

/**
 * roomMacKey derives the announcement MAC key from the room secret of the
 * invite link (its #k= bytes), or returns null without one.
 */
export async function roomMacKey(secret) {
  if (!secret || !secret.length) return null;
  const raw = await hkdf(secret, 'parley room mac v1', 32);
  return subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

/** macInput is what an announcement's MAC covers: the sender's id, its tag and public key. */
function macInput(id, tag, pub) {
  return concat(enc.encode(`parley pub v1\0${id}\0${tag}\0`), pub);
}

/**
 * announcement builds our public-key `key` payload:
 * {t: 'pub', pub, tag, mac?} (base64url fields; mac only with a room secret).
 */
export async function announcement(identity, selfId, tag, macKey) {
  const msg = { t: 'pub', pub: b64.encode(identity.pub), tag };
  if (macKey) msg.mac = b64.encode(new Uint8Array(await subtle.sign('HMAC', macKey, macInput(selfId, tag, identity.pub))));
  return msg;
}

/**
 * checkAnnouncement validates a peer's `pub` payload (from = the id the
 * server says sent it) and returns {auth, pub, tag}: auth is 'verified'
 * (MAC good), 'forged' (we have the room secret, the payload has a MAC and
 * it is wrong: a changed key, tag or sender), or 'unverified' (we have no
 * secret, or the sender sent no MAC because it joined without one).
 * Throws on a malformed payload.
 */
export async function checkAnnouncement(msg, from, macKey) {
  const pub = b64.decode(msg.pub);
  if (pub.length !== 65 || pub[0] !== 4) throw new Error('bad public key');
  const tag = msg.tag;
  if (!Number.isInteger(tag) || tag < 0 || tag >= 1 << 24) throw new Error('bad tag');
  if (!macKey) return { auth: 'unverified', pub, tag };
  if (typeof msg.mac !== 'string') return { auth: 'unverified', pub, tag };
  let mac;
  try {
    mac = b64.decode(msg.mac);
  } catch {
    return { auth: 'forged', pub, tag };
  }
  const ok = await subtle.verify('HMAC', macKey, mac, macInput(from, tag, pub));
  return { auth: ok ? 'verified' : 'forged', pub, tag };
}

/** wrapAAD binds a wrapped key to its KID, sender and receiver. */
function wrapAAD(kid, from, to) {
  return enc.encode(`parley key v1\0${kid}\0${from}\0${to}`);
}

/**
 * wrapMediaKey builds the `key` payload carrying our media key to one
 * peer: {t: 'key', kid, iv, key} with key = AES-GCM(wrap key, raw media key).
 */
export async function wrapMediaKey(wrapKey, kid, raw, from, to) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: wrapAAD(kid, from, to) }, wrapKey, raw);
  return { t: 'key', kid, iv: b64.encode(iv), key: b64.encode(new Uint8Array(ct)) };
}

/** unwrapMediaKey opens a `key` payload from `from` to us; throws when it does not authenticate. */
export async function unwrapMediaKey(wrapKey, msg, from, to) {
  if (!Number.isSafeInteger(msg.kid) || msg.kid < 0) throw new Error('bad kid');
  const pt = await subtle.decrypt(
    { name: 'AES-GCM', iv: b64.decode(msg.iv), additionalData: wrapAAD(msg.kid, from, to) }, wrapKey, b64.decode(msg.key));
  const raw = new Uint8Array(pt);
  if (raw.length !== 16) throw new Error('bad key length');
  return raw;
}

/**
 * safetyCode is the short code two participants compare by voice:
 * SHA-256 over both public keys (sorted, so both ends agree), shown as
 * three groups of four digits (≈ 40 bits).
 */
export async function safetyCode(pubA, pubB) {
  const [x, y] = [b64.encode(pubA), b64.encode(pubB)].sort();
  const h = new Uint8Array(await subtle.digest('SHA-256', enc.encode(`parley safety v1\0${x}\0${y}`)));
  let n = 0n;
  for (let i = 0; i < 5; i++) n = (n << 8n) | BigInt(h[i]);
  const digits = (n % 10n ** 12n).toString().padStart(12, '0');
  return `${digits.slice(0, 4)} ${digits.slice(4, 8)} ${digits.slice(8)}`;
}

// --- our sending key ------------------------------------------------------

/**
 * SenderKeys is our own media key: owned by the E2EE controller, which
 * copies each new generation to the worker. tag is random per session.
 */
export class SenderKeys {
  constructor(raw = randomKey(), tag = crypto.getRandomValues(new Uint32Array(1))[0] >>> 8) {
    this.tag = tag;
    this.epoch = 0;
    /** @type {Uint8Array} */
    this.raw = raw;
  }

  get kid() {
    return makeKid(this.tag, this.epoch);
  }

  /** onJoin ratchets the key forward: the newcomer cannot read earlier frames. */
  async onJoin() {
    this.raw = await ratchet(this.raw);
    this.epoch = (this.epoch + 1) % EPOCHS;
    return this.kid;
  }

  /** onLeave switches to a fresh random key: the leaver cannot read later frames. */
  onLeave() {
    this.raw = randomKey();
    this.epoch = (this.epoch + 1) % EPOCHS;
    return this.kid;
  }
}

// --- receivers' keys ------------------------------------------------------

/**
 * KeyRing holds the senders' keys a receiver knows, by KID, with their
 * SFrame keys derived once. One owner each: the worker has one for media
 * frames, the controller one for sealed data. `derive` turns a base key
 * and KID into the key used (SFrameKey.derive for media, through the data
 * label for data).
 */
export class KeyRing {
  constructor({ derive = (raw, kid) => SFrameKey.derive(raw, kid), now = () => Date.now() } = {}) {
    this.derive = derive;
    this.now = now;
    /** @type {Map<number, {peer: string, kid: number, raw: Uint8Array, key: Promise<any>, expires: number, used: boolean}>} */
    this.keys = new Map();
    /** tag → peer id, from the announcements */
    this.tags = new Map();
    /**
     * tag → the newest epoch whose key was pruned: a key at or before it
     * is never installed again, so a `key` message the server kept and
     * sends again cannot bring back a retired key and its used counters.
     */
    this.retired = new Map();
  }

  /**
   * setTag records which peer a tag belongs to. It reports false, and
   * changes nothing, when the tag is another peer's: tags are per sender.
   */
  setTag(peer, tag) {
    const owner = this.tags.get(tag);
    if (owner !== undefined && owner !== peer) return false;
    this.tags.set(tag, peer);
    return true;
  }

  /** peerOf returns the peer a KID belongs to (by its tag), or ''. */
  peerOf(kid) {
    return this.tags.get(splitKid(kid).tag) ?? '';
  }

  /**
   * add installs a sender's key received in a `key` message. It returns
   * null, and installs nothing, for a retired KID or one held for another
   * peer.
   */
  add(peer, kid, raw) {
    if (this.isRetired(kid)) return null;
    const old = this.keys.get(kid);
    if (old && old.peer !== peer) return null;
    if (old && equal(old.raw, raw)) return old;
    const e = { peer, kid, raw, key: this.derive(raw, kid), expires: Infinity, used: false };
    this.keys.set(kid, e);
    return e;
  }

  /** forget drops every key of a peer (it left). */
  forget(peer) {
    for (const [kid, e] of this.keys) if (e.peer === peer) this.keys.delete(kid);
    for (const [tag, p] of this.tags) if (p === peer) this.tags.delete(tag);
  }

  /**
   * lookup returns the entry for a KID: a key we hold, or one ratcheted
   * forward from the newest key we hold of the same sender (at most
   * MAX_RATCHET_STEPS). A ratcheted entry is tentative until confirm().
   * Returns null when there is nothing to try.
   */
  async lookup(kid) {
    this.prune();
    kid = Number(kid);
    const have = this.keys.get(kid);
    if (have) return have;
    if (this.isRetired(kid)) return null;
    const { tag, epoch } = splitKid(kid);
    let base = null;
    let steps = Infinity;
    for (const e of this.keys.values()) {
      const s = splitKid(e.kid);
      if (s.tag !== tag) continue;
      const d = (epoch - s.epoch + EPOCHS) % EPOCHS;
      if (d > 0 && d <= MAX_RATCHET_STEPS && d < steps) {
        base = e;
        steps = d;
      }
    }
    if (!base) return null;
    let raw = base.raw;
    for (let i = 0; i < steps; i++) raw = await ratchet(raw);
    return { peer: base.peer, kid, raw, key: this.derive(raw, kid), expires: Infinity, used: false, tentative: true };
  }

  /**
   * confirm records that an entry decrypted something: a tentative
   * (ratcheted) entry is kept, and the sender's older keys now expire
   * after GRACE_MS.
   */
  confirm(entry) {
    if (entry.used && !entry.tentative) return;
    if (entry.tentative) {
      delete entry.tentative;
      const have = this.keys.get(entry.kid);
      // Two frames may have ratcheted to the same key before either was
      // confirmed: keep the first entry (and what it has seen).
      if (have && equal(have.raw, entry.raw)) entry = have;
      else this.keys.set(entry.kid, entry);
    }
    entry.used = true;
    const { tag, epoch } = splitKid(entry.kid);
    const until = this.now() + GRACE_MS;
    for (const e of this.keys.values()) {
      const s = splitKid(e.kid);
      if (s.tag !== tag || e === entry) continue;
      if (notAfter(s.epoch, epoch) && e.expires === Infinity) e.expires = until;
    }
  }

  /**
   * fresh reports whether ctr was not seen before under entry's KID, and
   * records it (replay.js). Call it after confirm(entry), for a frame or
   * message that authenticated.
   */
  fresh(entry, ctr) {
    const e = this.keys.get(entry.kid) ?? entry;
    e.replay ??= new ReplayWindow();
    return e.replay.accept(ctr);
  }

  /** prune drops keys whose grace window is over, and retires their epochs. */
  prune() {
    const now = this.now();
    for (const [kid, e] of this.keys) {
      if (e.expires > now) continue;
      this.keys.delete(kid);
      const { tag, epoch } = splitKid(kid);
      const r = this.retired.get(tag);
      if (r === undefined || notAfter(r, epoch)) this.retired.set(tag, epoch);
    }
  }

  /** isRetired reports whether kid is at or before its sender's newest retired epoch. */
  isRetired(kid) {
    const { tag, epoch } = splitKid(kid);
    const r = this.retired.get(tag);
    return r !== undefined && notAfter(epoch, r);
  }
}

/** notAfter reports whether epoch a is b or older, modulo EPOCHS (half the range back). */
function notAfter(a, b) {
  return (b - a + EPOCHS) % EPOCHS < EPOCHS / 2;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
