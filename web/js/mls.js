// @ts-check
// MLS (RFC 9420) for Parley's rooms, DOM-free: the group a room's members
// share, the KeyPackages that ask to join it, the invite-secret proofs that
// a committer checks before adding one, and what each epoch gives the rest
// of the client — SFrame base keys from the MLS exporter (RFC 9605 §5.2),
// a data key under another label, and the room code from the epoch
// authenticator (RFC 9420 §8.7). The MLS itself is ts-mls, vendored
// (web/vendor/README.md); nothing here is a protocol of our own beyond
// the proof (an HMAC under a key derived from the room secret).
//
// Ownership: a Group is owned by one caller (e2ee.js's controller), which
// serialises every call; a Group never changes except through its own
// methods, and commit() returns the next state without adopting it (the
// Delivery Service decides whether our commit wins the epoch, docs/e2ee.md).

import {
  createGroup, createCommit, joinGroup, processPrivateMessage, generateKeyPackage,
  encodeMlsMessage, decodeMlsMessage, getCiphersuiteImpl, getCiphersuiteFromName,
  defaultCapabilities, emptyPskIndex, mlsExporter, zeroOutUint8Array,
} from '../vendor/node_modules/ts-mls/dist/src/index.js';
import { makeKid, kidIndex, kidEpochBits, indexBits, EPOCH_BITS } from './epochs.js';

// The KID layout lives in epochs.js (the worker loads it without ts-mls).
export { makeKid, kidIndex, kidEpochBits, indexBits, EPOCH_BITS };

/**
 * The default cipher suite: MLS's mandatory one (RFC 9420 §17.1), every
 * primitive in WebCrypto. X-Wing (post-quantum) works too but is not the
 * default: docs/benchmarks.md has the figures and docs/e2ee.md the reason.
 */
export const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';
/** The post-quantum hybrid suite (X25519 + ML-KEM-768), measured against SUITE. */
export const SUITE_PQ = 'MLS_256_XWING_AES256GCM_SHA512_Ed25519';

/** AEAD.Nk of SFrame's AES_128_GCM_SHA256_128 (RFC 9605 §4.5): 16-byte keys. */
export const SFRAME_NK = 16;

/** RFC 9605 §5.2's exporter label for the SFrame base key. */
export const SFRAME_LABEL = 'SFrame 1.0 Base Key';
/** Our exporter label for the data key (chat, files, pointer, reactions). */
export const DATA_LABEL = 'parley data v1';

/** Room code: 5 groups of 5 digits ≈ 83 bits, read aloud in groups. */
export const CODE_GROUPS = 5;
export const CODE_GROUP_DIGITS = 5;

/**
 * A KeyPackage's lifetime (its leaf node's notBefore..notAfter, RFC 9420
 * §7.2), in seconds. Committers refuse one outside it (ts-mls checks
 * notAfter when it adds a KeyPackage; admit() checks the total), so a
 * recorded KeyPackage can be replayed only within this window, and within
 * it the group's own spent list (SPENT_EXTENSION) refuses it. Long enough
 * for a newcomer to be welcomed (it makes a new one when its own runs
 * out while it waits), short enough to keep the spent list small.
 */
export const KP_LIFETIME_S = 600;
/** Clock skew between members we allow: notBefore lies this far back, spent entries live this much longer. */
export const KP_SKEW_S = 120;
/** The longest lifetime a committer accepts (RFC 9420 §7.2 wants a maximum). */
export const MAX_KP_LIFETIME_S = KP_LIFETIME_S + 2 * KP_SKEW_S;

/**
 * Our GroupContext extension (RFC 9420 §13.3, private-use range): the
 * signature keys of the KeyPackages added to the group whose lifetime has
 * not run out, with their notAfter. It rides in the group context, so a
 * member who joined later (a committer who never saw those KeyPackages
 * used) knows them from its Welcome, and every member agrees on it (it is
 * in the key schedule). A committer refuses a KeyPackage on this list;
 * one whose lifetime ended is refused by its lifetime.
 */
export const SPENT_EXTENSION = 0xf0a1;
/**
 * The spent list keeps at most this many entries (the oldest go first):
 * 200 joins within one KeyPackage lifetime, far more than a room sees,
 * while its ≈ 80 bytes an entry (≈ 16 KB) keep a Welcome, which carries
 * the group context, well under the signaling frame limit (64 KiB).
 */
export const MAX_SPENT = 200;

/** Longest display name a credential may carry (the lobby's maxlength). */
export const MAX_NAME = 64;
/** Longest participant id a credential may carry (ids are short tokens). */
export const MAX_ID = 64;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

/** ErrMls: a message or KeyPackage that is not what it claims (the caller shows it). */
export class MlsInputError extends Error {}

const suites = new Map();

/** cipherSuite returns ts-mls's implementation of a suite (cached per name). */
export function cipherSuite(name = SUITE) {
  if (!suites.has(name)) suites.set(name, getCiphersuiteImpl(getCiphersuiteFromName(name)));
  return suites.get(name);
}

/**
 * encodeIdentity is a BasicCredential's identity: {participant id,
 * display name} as JSON, so every member reads names from the group, not
 * from the server.
 * @param {{id: string, name: string}} who
 */
export function encodeIdentity({ id, name }) {
  return enc.encode(JSON.stringify({ id, name }));
}

/**
 * decodeIdentity reads a credential identity; throws MlsInputError when it
 * is not ours.
 * @param {Uint8Array} bytes
 * @returns {{id: string, name: string}}
 */
export function decodeIdentity(bytes) {
  let v;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch {
    throw new MlsInputError('mls: a credential that is not a Parley identity');
  }
  if (typeof v?.id !== 'string' || typeof v?.name !== 'string' || !v.id ||
      v.id.length > MAX_ID || v.name.length > MAX_NAME) {
    throw new MlsInputError('mls: a credential with a bad id or name');
  }
  return { id: v.id, name: v.name };
}

/** nowS is the time in whole seconds (MLS lifetimes' unit). */
const nowS = () => BigInt(Math.floor(Date.now() / 1000));

/** capabilities: ts-mls's defaults plus our spent-list extension (every member must support a GroupContext extension). */
function capabilities() {
  const caps = defaultCapabilities();
  return { ...caps, extensions: [...caps.extensions, SPENT_EXTENSION] };
}

/**
 * newKeyPackage makes our KeyPackage for this session, valid for
 * KP_LIFETIME_S from now (expires: its notAfter in ms).
 * @returns {Promise<{pub: object, priv: object, bytes: Uint8Array, expires: number}>}
 */
export async function newKeyPackage(cs, who, now = nowS()) {
  const credential = { credentialType: 'basic', identity: encodeIdentity(who) };
  const lifetime = { notBefore: now - BigInt(KP_SKEW_S), notAfter: now + BigInt(KP_LIFETIME_S) };
  const kp = await generateKeyPackage(credential, capabilities(), lifetime, [], cs);
  const bytes = encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
  return { pub: kp.publicPackage, priv: kp.privatePackage, bytes, expires: Number(lifetime.notAfter) * 1000 };
}

/**
 * lifetimeProblem says why a KeyPackage's lifetime is not acceptable now
 * ('' when it is): not yet valid, run out (a replay of an old one), or
 * longer than MAX_KP_LIFETIME_S.
 */
export function lifetimeProblem(keyPackage, now = nowS()) {
  const lt = keyPackage.leafNode.lifetime;
  if (!lt) return 'a KeyPackage without a lifetime';
  if (lt.notAfter - lt.notBefore > BigInt(MAX_KP_LIFETIME_S)) return 'a KeyPackage valid for longer than allowed';
  if (now < lt.notBefore || now > lt.notAfter) return 'a KeyPackage whose lifetime ran out (an old one replayed?)';
  return '';
}

// --- the spent list (SPENT_EXTENSION) ------------------------------------

/**
 * decodeSpent reads the spent list from GroupContext extensions: a Map of
 * signature key (hex) → notAfter (seconds). Malformed data reads as empty
 * (a member wrote it; it can only make us stricter than the list says).
 * @returns {Map<string, number>}
 */
export function decodeSpent(extensions) {
  const ext = extensions?.find((e) => e.extensionType === SPENT_EXTENSION);
  const out = new Map();
  if (!ext) return out;
  try {
    const v = JSON.parse(dec.decode(ext.extensionData));
    if (v?.v !== 1 || !Array.isArray(v.used)) return out;
    for (const e of v.used.slice(0, MAX_SPENT)) {
      if (Array.isArray(e) && typeof e[0] === 'string' && /^[0-9a-f]{1,256}$/.test(e[0]) && Number.isSafeInteger(e[1])) out.set(e[0], e[1]);
    }
  } catch { /* not ours: empty */ }
  return out;
}

/**
 * spentExtensions is the next GroupContext extensions: the list without
 * entries past their notAfter (+ skew: such a KeyPackage is refused by its
 * lifetime anyway), plus the KeyPackages this commit adds; the others kept.
 */
function spentExtensions(extensions, adds, now) {
  const used = decodeSpent(extensions);
  for (const [k, until] of used) if (until + KP_SKEW_S < Number(now)) used.delete(k);
  for (const kp of adds) used.set(hex(kp.leafNode.signaturePublicKey), Number(kp.leafNode.lifetime?.notAfter ?? now));
  const list = [...used].slice(-MAX_SPENT);
  return [
    ...(extensions ?? []).filter((e) => e.extensionType !== SPENT_EXTENSION),
    { extensionType: SPENT_EXTENSION, extensionData: enc.encode(JSON.stringify({ v: 1, used: list })) },
  ];
}

/**
 * readKeyPackage decodes a KeyPackage message and its credential.
 * @param {Uint8Array} bytes
 * @returns {{keyPackage: object, who: {id: string, name: string}, key: string}}
 *   key: the leaf's signature public key, hex.
 */
export function readKeyPackage(bytes) {
  const m = decodeMsg(bytes, 'mls_key_package');
  const cred = m.keyPackage.leafNode.credential;
  if (cred.credentialType !== 'basic') throw new MlsInputError('mls: a KeyPackage without a basic credential');
  return { keyPackage: m.keyPackage, who: decodeIdentity(cred.identity), key: hex(m.keyPackage.leafNode.signaturePublicKey) };
}

/**
 * hex names a leaf's signature key: our clients make a fresh one with
 * every KeyPackage, so it names the KeyPackage for the life of its leaf
 * (updates keep it), and no one without its private key can reuse it.
 */
function hex(bytes) {
  return bytes instanceof Uint8Array ? Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('') : '';
}

function decodeMsg(bytes, wireformat) {
  let m;
  try {
    m = decodeMlsMessage(bytes, 0)?.[0];
  } catch (err) {
    throw new MlsInputError(`mls: undecodable message: ${err.message}`);
  }
  if (!m || m.wireformat !== wireformat) throw new MlsInputError(`mls: expected ${wireformat}`);
  return m;
}

// --- invite-secret proofs ----------------------------------------------

/**
 * proofKey derives the HMAC key for KeyPackage proofs and welcome
 * confirmations from the room secret (#k=…): HKDF-SHA256, a label per use.
 * @param {Uint8Array<ArrayBuffer>} secret
 * @param {'proof'|'welcome'} use
 */
export async function proofKey(secret, use) {
  const ikm = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: EMPTY, info: enc.encode(`parley mls ${use} v1`) },
    ikm, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign', 'verify']);
}

/** lv is a 4-byte big-endian length then the bytes: no two inputs encode alike. */
function lv(...parts) {
  const size = parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    dv.setUint32(o, p.length);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

async function proofInput(kpBytes, id, name) {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', kpBytes));
  return lv(enc.encode('parley kp proof v1'), h, enc.encode(id), enc.encode(name));
}

/**
 * makeProof: HMAC-SHA256 under proofKey(secret, 'proof') over the hash of
 * the KeyPackage bytes, the participant id and the display name.
 */
export async function makeProof(key, kpBytes, id, name) {
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, await proofInput(kpBytes, id, name)));
}

/**
 * checkProof says whether proof is makeProof's for these inputs (constant time, WebCrypto).
 * @param {CryptoKey} key
 * @param {Uint8Array<ArrayBuffer>|null|undefined} proof as received; anything but 32 bytes is refused
 */
export async function checkProof(key, proof, kpBytes, id, name) {
  if (!(proof instanceof Uint8Array) || proof.length !== 32) return false;
  return crypto.subtle.verify('HMAC', key, proof, await proofInput(kpBytes, id, name));
}

/**
 * admit is the committer's check of a relayed KeyPackage: its credential
 * must name the participant the server says sent it, and in a room with a
 * secret its proof must verify. Returns {ok, who, keyPackage, key, why}
 * (key: the KeyPackage's signature key in hex, see hex).
 * @param {{bytes: Uint8Array, from: string, proof?: Uint8Array<ArrayBuffer>|null, key?: CryptoKey|null}} o
 */
export async function admit({ bytes, from, proof = null, key = null }) {
  let kp;
  try {
    kp = readKeyPackage(bytes);
  } catch (err) {
    return { ok: false, why: err.message };
  }
  if (kp.who.id !== from) return { ok: false, who: kp.who, why: `credential id ${kp.who.id} is not the sender ${from}` };
  const late = lifetimeProblem(kp.keyPackage);
  if (late) return { ok: false, who: kp.who, key: kp.key, why: late, expired: true };
  if (key && !(await checkProof(key, proof, bytes, kp.who.id, kp.who.name))) {
    return { ok: false, who: kp.who, why: 'no valid invite proof', noProof: true };
  }
  return { ok: true, who: kp.who, keyPackage: kp.keyPackage, key: kp.key };
}

/** welcomeTag: HMAC under proofKey(secret, 'welcome') over the epoch authenticator. */
export async function welcomeTag(key, authenticator) {
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, lv(enc.encode('parley welcome v1'), authenticator)));
}

/**
 * checkWelcomeTag: a newcomer's check that its group knows the room secret.
 * @param {CryptoKey} key
 * @param {Uint8Array<ArrayBuffer>|null|undefined} tag as received; anything but 32 bytes is refused
 */
export async function checkWelcomeTag(key, tag, authenticator) {
  if (!(tag instanceof Uint8Array) || tag.length !== 32) return false;
  return crypto.subtle.verify('HMAC', key, tag, lv(enc.encode('parley welcome v1'), authenticator));
}

/** roomCode turns an epoch authenticator into 5 groups of 5 digits (≈ 83 bits). */
export function roomCode(authenticator) {
  let n = 0n;
  for (const b of authenticator.subarray(0, 16)) n = (n << 8n) | BigInt(b);
  const digits = (n % 10n ** BigInt(CODE_GROUPS * CODE_GROUP_DIGITS)).toString().padStart(CODE_GROUPS * CODE_GROUP_DIGITS, '0');
  const groups = [];
  for (let i = 0; i < CODE_GROUPS; i++) groups.push(digits.slice(i * CODE_GROUP_DIGITS, (i + 1) * CODE_GROUP_DIGITS));
  return groups.join(' ');
}

// --- the group -----------------------------------------------------------

/** Group is our view of a room's MLS group (one ClientState, replaced per epoch). */
export class Group {
  /** @param {object} state ts-mls ClientState  @param {object} cs */
  constructor(state, cs) {
    this.state = state;
    this.cs = cs;
  }

  /** create starts a group of one (the room's first participant). */
  static async create(cs, kp, groupId) {
    return new Group(await createGroup(groupId, kp.pub, kp.priv, [], cs), cs);
  }

  /** join enters a group from a Welcome addressed to our KeyPackage. */
  static async join(cs, kp, welcomeBytes) {
    const m = decodeMsg(welcomeBytes, 'mls_welcome');
    try {
      return new Group(await joinGroup(m.welcome, kp.pub, kp.priv, emptyPskIndex, cs), cs);
    } catch (err) {
      throw new MlsInputError(`mls: the welcome did not open: ${err.message}`);
    }
  }

  get epoch() { return Number(this.state.groupContext.epoch); }
  get leaf() { return this.state.privatePath.leafIndex; }
  /** groupSize is the tree's leaf count (RFC 9605's group_size for S). */
  get groupSize() { return Math.ceil(this.state.ratchetTree.length / 2); }

  /** members: [{leaf, id, name, key}] from the credentials in the tree (key: the signature key, hex). */
  members() {
    const out = [];
    this.state.ratchetTree.forEach((node, i) => {
      if (node?.nodeType !== 'leaf') return;
      const c = node.leaf.credential;
      const key = hex(node.leaf.signaturePublicKey);
      try {
        out.push({ leaf: i / 2, ...decodeIdentity(c.identity), key });
      } catch {
        out.push({ leaf: i / 2, id: '', name: '', key });
      }
    });
    return out;
  }

  /**
   * spent says whether a KeyPackage (by its signature key, hex) was added
   * to this group within its lifetime: the group's own record
   * (SPENT_EXTENSION), which a member who joined later has too.
   */
  spent(key) {
    return !!key && decodeSpent(this.state.groupContext.extensions).has(key);
  }

  /** leafOf finds the leaf of a participant id, or -1. */
  leafOf(id) {
    return this.members().find((m) => m.id === id)?.leaf ?? -1;
  }

  /**
   * commit adds KeyPackages and removes leaves in one commit (and, when
   * it adds, records them on the group's spent list). It returns the next
   * state without adopting it: call adopt() when the DS sends our commit
   * back (it won the epoch), drop it otherwise.
   * @param {{adds?: object[], removes?: number[]}} o
   * @param {bigint} [now] the time in seconds (tests)
   * @returns {Promise<{commit: Uint8Array, welcome: Uint8Array|null, next: Group}>}
   */
  async commit({ adds = [], removes = [] }, now = nowS()) {
    /** @type {object[]} */
    const extraProposals = [
      ...removes.map((removed) => ({ proposalType: 'remove', remove: { removed } })),
      ...adds.map((keyPackage) => ({ proposalType: 'add', add: { keyPackage } })),
    ];
    if (adds.length) {
      // The group records what it added (SPENT_EXTENSION), in the same commit.
      const extensions = spentExtensions(this.state.groupContext.extensions, adds, now);
      extraProposals.push({ proposalType: 'group_context_extensions', groupContextExtensions: { extensions } });
    }
    const r = await createCommit({ state: this.state, cipherSuite: this.cs }, { extraProposals, ratchetTreeExtension: true });
    r.consumed.forEach(zeroOutUint8Array);
    return {
      commit: encodeMlsMessage(r.commit),
      welcome: r.welcome ? encodeMlsMessage({ welcome: r.welcome, wireformat: 'mls_welcome', version: 'mls10' }) : null,
      next: new Group(r.newState, this.cs),
    };
  }

  /** adopt takes the state a won commit made. */
  adopt(next) {
    this.state = next.state;
  }

  /**
   * process applies another member's commit (a PrivateMessage of this
   * epoch). Throws MlsInputError when it does not apply; the state is then
   * unchanged. Returns whether we were removed.
   */
  async process(bytes) {
    const m = decodeMsg(bytes, 'mls_private_message');
    let r;
    try {
      r = await processPrivateMessage(this.state, m.privateMessage, emptyPskIndex, this.cs);
    } catch (err) {
      throw new MlsInputError(`mls: a commit that does not apply: ${err.message}`);
    }
    if (r.kind !== 'newState') throw new MlsInputError('mls: expected a commit, got an application message');
    r.consumed?.forEach(zeroOutUint8Array);
    this.state = r.newState;
    return { removed: this.state.groupActiveState?.kind === 'removedFromGroup' };
  }

  /**
   * epochKeys: what this epoch gives the frame layer. media and data are
   * RFC 9605 base keys (MLS-Exporter(label, "", Nk)); each sender's own
   * SFrame key comes from its KID (makeKid) through derive_key_salt.
   */
  async epochKeys() {
    const secret = this.state.keySchedule.exporterSecret;
    const auth = this.state.keySchedule.epochAuthenticator;
    return {
      epoch: this.epoch,
      leaf: this.leaf,
      groupSize: this.groupSize,
      media: await mlsExporter(secret, SFRAME_LABEL, EMPTY, SFRAME_NK, this.cs),
      data: await mlsExporter(secret, DATA_LABEL, EMPTY, SFRAME_NK, this.cs),
      authenticator: auth,
      code: roomCode(auth),
    };
  }
}
