// @ts-check
// The E2EE controller (docs/e2ee.md), on the main thread: our MLS group
// (mls.js) over the server's Delivery Service (`mls` messages,
// docs/protocol.md), the keys each epoch gives the frame worker
// (e2ee-worker.js) and the data channels, and what we show of each
// participant (admitted or not, their credential's name, media health).
// The same keys serve mesh and SFU: a switch needs no key exchange.
//
// Ownership: one E2EE per call owns the Group, the pending adds and
// removes, the data EpochRing and the peer records; every change runs
// through inOrder, one step at a time, so MLS messages are processed in
// the order the Delivery Service sent them.
//
// Membership (docs/e2ee.md "Membership"): the room's first participant
// creates the group; a newcomer sends its KeyPackage (with an invite
// proof when it has the room secret) until it is welcomed; the committer
// — the present member with the lowest leaf — commits Add for every
// admitted KeyPackage and Remove for every leaver, and merges its commit
// only when the DS sends it back.
//
// Events (CustomEvents):
//   peer    {id, info}       a participant's E2EE state changed (see peerInfo)
//   refused {id, name, why}  a participant's KeyPackage was not admitted
//   group   {epoch, code}    we are in the group at a new epoch
//   problem {text}           something the person must know (a group without the secret)
//
// Data API for chat, files, pointer, reactions (the data-channel layer):
//   sealData(bytes) → SFrame ciphertext under our data key
//   openData(senderId, bytes) → plaintext; throws when it does not open
// With encryption off (disable(): a room an administrator allowed
// unencrypted, docs/e2ee.md) both return the bytes as they are.

import { EpochRing, GRACE_MS, makeKid } from './epochs.js';
import { b64 } from './keys.js';
import { SFrameKey, sframeEncrypt, sframeDecrypt, decodeHeader } from './sframe.js';

/**
 * A newcomer sends its KeyPackage again this often until it is welcomed:
 * the committer may have left, or its commit lost the epoch to another.
 */
export const KP_RETRY_MS = 3000;

/**
 * A newcomer still waiting to be welcomed makes a new KeyPackage when its
 * own has less than this left of its lifetime (mls.js KP_LIFETIME_S): a
 * committer must still find it valid when it commits.
 */
export const KP_RENEW_MS = 60000;

/**
 * Frames that fail before a participant is in our group count as
 * "failing" only this long after they appeared: the first frames of a
 * call always arrive before the commit that admits them.
 */
export const KEY_WAIT_MS = 4000;

/**
 * Data sealed before we are in the group waits this long for our first
 * epoch (a chat message typed while the commit that admits us is on its
 * way), then fails visibly.
 */
export const JOIN_WAIT_MS = 10000;

/**
 * A sealed message whose epoch we do not have yet (it came over a data
 * channel before the commit came over signaling) waits this long for the
 * next epoch before it is refused.
 */
export const EPOCH_WAIT_MS = 2000;

/**
 * Sealed data waits at most this long for participants who joined the
 * call in the last JOINER_MS and are not in the group yet (their commit is
 * on its way): a chat message sent as someone arrives must reach them,
 * and they cannot open anything sealed under an epoch before theirs.
 */
export const SETTLE_MS = 5000;
/** How long after joining the call a participant counts as on its way into the group. */
export const JOINER_MS = 10000;

/**
 * The DS answers a commit at once (echo or mls-stale); one unanswered
 * this long (its answer lost with a dropped socket) is given up so the
 * committer can go on.
 */
export const COMMIT_ANSWER_MS = 10000;

/** A KeyPackage larger than this is refused unread (an X25519 one is ≈ 300 bytes). */
const MAX_KP_BYTES = 16 << 10;

const EMPTY = new Uint8Array(0);
const enc = new TextEncoder();

/**
 * The MLS layer (mls.js and the vendored ts-mls, ≈ 150 modules, ≈ 250
 * with what its cipher suites import on demand) starts loading as soon as
 * the room page's script runs (preloadMls), beside the page's own start-up
 * (camera, signaling): on a quiet machine importing it takes ≈ 0.45 s
 * even from the browser's cache (per-module cost, not the depth of the
 * import graph: preloading every module in parallel took as long), and
 * the welcome comes ≈ 1 s after navigation. Started at call start instead,
 * it finished ≈ 0.4 s later (BenchmarkJoinToFirstFrame, docs/benchmarks.md).
 * @type {typeof import('./mls.js')|null}
 */
let M = null;

/** loadMls imports mls.js once; a server built without web/vendor fails here, loudly. */
/** @type {Promise<typeof import('./mls.js')>|null} */
let mlsImport = null;
async function loadMls() {
  mlsImport ??= import('./mls.js');
  M ??= await mlsImport;
  return M;
}
/**
 * preloadMls starts loading the MLS layer now (the room page calls it as
 * it starts; the landing page, which has no import map for ts-mls, does
 * not).
 */
export function preloadMls() {
  loadMls().catch(() => { /* start() awaits the same import and reports the failure */ });
}

/**
 * transformSupport says which encoded-transform API this browser has:
 * 'script' (RTCRtpScriptTransform), 'streams' (createEncodedStreams) or ''.
 */
export function transformSupport() {
  if (typeof globalThis.RTCRtpScriptTransform === 'function') return 'script';
  // createEncodedStreams is Chromium's non-standard API: not in TypeScript's DOM types.
  const sender = /** @type {{createEncodedStreams?: unknown}|undefined} */ (globalThis.RTCRtpSender?.prototype);
  if (typeof sender?.createEncodedStreams === 'function') return 'streams';
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

/** The record the controller keeps per participant it heard of. */
class PeerRecord {
  constructor(id) {
    this.id = id;
    /** the display name in their MLS credential ('' until they are a member) */
    this.name = '';
    /** their leaf in the current epoch, -1 when not a member */
    this.leaf = -1;
    /** why their KeyPackage was refused ('' when it was not) */
    this.refused = '';
    /** 'waiting' (no frame yet) | 'ok' | 'failing' */
    this.media = 'waiting';
    this.decrypted = 0;
    this.failed = 0;
    /** of the failed, those that are no key problem: the worker's `early` and `replayed` */
    this.early = 0;
    /** the worker's failure counts by reason, for the debug view */
    this.why = {};
    this.misbound = 0;
    /** whether a member's commit re-added them with a used KeyPackage (hostileAdd) */
    this.hostile = false;
    /** whether we held the peer's keys at the worker's previous stats message */
    this.keyedBefore = false;
    this.since = Date.now();
  }
}

export class E2EE extends EventTarget {
  /**
   * @param {{signaling: import('./signaling.js').Signaling,
   *          secret: Uint8Array<ArrayBuffer>|null, enabled?: boolean, suite?: string, joinWaitMs?: number, settleMs?: number}} o
   *   secret: the room secret from the invite link (#k=…), or null.
   */
  constructor({ signaling, secret, enabled = true, suite, joinWaitMs = JOIN_WAIT_MS, settleMs = SETTLE_MS }) {
    super();
    this.joinWaitMs = joinWaitMs;
    this.settleMs = settleMs;
    /** @type {Awaited<ReturnType<typeof import('./mls.js').cipherSuite>>|undefined} the MLS cipher suite, loaded on first use */
    this.cs;
    this.closed = false;
    this.sig = signaling;
    this.secret = secret;
    this.suiteName = suite;
    this.mode = enabled ? transformSupport() : '';
    this.enabled = enabled && this.mode !== '';
    this.selfId = '';
    this.selfName = '';
    /** @type {import('./mls.js').Group|null} */
    this.group = null;
    this.kp = null;
    /**
     * our one commit the DS has not answered yet (sent back: it won; or
     * mls-stale: it lost): {epoch, data, next, at}. Never two at once, so
     * a refusal always names this one.
     */
    this.inFlight = null;
    this.creating = false;
    /** participant id → {bytes, keyPackage, name}: admitted KeyPackages waiting for a commit */
    this.pendingAdds = new Map();
    /** participants in the signaling room now (the server's word: used to pick the committer and removals) */
    this.present = new Set();
    /**
     * Replay defence (docs/e2ee.md "Replayed joins"), for the life of the
     * page, never cleared by reset: ids the server said left (it never
     * reuses one: a resume keeps its id without a leave), and the signature
     * keys of every KeyPackage that was in our group (usedKeys) or that we
     * refused for its proof (refusedKeys): each names one KeyPackage, and a
     * KeyPackage is for one use (RFC 9420 §16.8).
     */
    this.departed = new Set();
    this.usedKeys = new Set();
    this.refusedKeys = new Set();
    /** signature keys a member's commit re-added (hostileAdd): shown refused, removed by the committer */
    this.hostileKeys = new Set();
    /** the signature keys of our group's members in the epoch we last installed */
    this.memberKeys = new Set();
    /** @type {Set<string>} the participant ids of our group's members in the epoch we last installed */
    this.memberIds = new Set();
    /** @type {Map<string, PeerRecord>} */
    this.peers = new Map();
    this.dataRing = new EpochRing();
    /** our data key for the epoch we send in, and its counter */
    this.dataSend = null;
    this.active = { epoch: -1, leaf: -1, groupSize: 0 };
    /** the epoch our sealed data uses: the newest, at once (see installEpoch) */
    this.dataActive = { epoch: -1, leaf: -1 };
    this.code = '';
    this.epochs = 0;
    this.timers = new Set();
    this.kpTimer = 0;
    /** KeyPackages sent this session (info(): a newcomer still loading MLS has sent none) */
    this.kpSent = 0;
    this.proofKey = null;
    this.welcomeKey = null;
    this.unreported = { decrypted: 0, failed: 0, beforeKey: 0 };
    this.attached = new WeakSet();
    /** receivers → the id the worker knows them by (for bind) */
    this.rids = new WeakMap();
    this.nextRid = 1;
    this.stats = { encrypted: 0, dropped: 0, timing: null };
    this.handshakeBytes = { sent: 0, received: 0 };
    this.chain = Promise.resolve();
    this.worker = null;
    if (this.enabled) {
      this.worker = new Worker(new URL('./e2ee-worker.js', import.meta.url), { type: 'module', name: 'parley-e2ee' });
      this.worker.addEventListener('message', ({ data }) => this.onWorker(data));
      this.worker.addEventListener('error', (ev) => console.error('parley: e2ee worker:', ev.message));
      // Fetch it while the call connects, and make the cipher suite (ts-mls
      // imports its Ed25519 code then): both off the join's critical path,
      // which starts at the welcome (our KeyPackage names the id it gives).
      loadMls().then((m) => m.cipherSuite(this.suiteName)).catch(() => { /* start() reports it */ });
    }
  }

  /** rtcConfig is what RTCPeerConnection configurations need for our transforms. */
  rtcConfig() {
    return this.mode === 'streams' && this.enabled ? { encodedInsertableStreams: true } : {};
  }

  /** inOrder runs MLS work one step at a time, in the order it came. */
  inOrder(fn) {
    this.chain = this.chain.then(fn).catch((err) => console.warn('parley: e2ee:', err));
    return this.chain;
  }

  later(fn, ms) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /**
   * start begins a session (every fresh `welcome`, not a resume): a new
   * KeyPackage for our new id, then create the group or ask to join it.
   * @param {string} selfId
   * @param {{group?: boolean}} mls the welcome's `mls` field
   * @param {string[]} peers the ids in the room
   * @param {string} name our display name (as the server stored it)
   */
  start(selfId, mls = {}, peers = [], name = '') {
    if (!this.enabled) return Promise.resolve();
    // Set by a `created` that arrives while this session is still loading
    // MLS: then the room has a group after all, and we ask to join it.
    this.groupSeen = false;
    return this.inOrder(async () => {
      this.reset();
      this.selfId = selfId;
      this.selfName = name;
      for (const id of peers) {
        if (this.departed.has(id)) {
          this.replayed(`the server lists ${id} as here, who left`);
          continue;
        }
        this.present.add(id);
        this.peer(id);
      }
      try {
        await loadMls();
      } catch (err) {
        console.error('parley: e2ee: the MLS library did not load:', err);
        this.dispatchEvent(new CustomEvent('problem', {
          detail: { text: 'This server was built without its encryption library (web/vendor): encrypted calls cannot start. Tell its operator.' },
        }));
        return;
      }
      this.cs ??= await M.cipherSuite(this.suiteName);
      performance.mark('parley:mls-loaded');
      if (this.secret && !this.proofKey) {
        this.proofKey = await M.proofKey(this.secret, 'proof');
        this.welcomeKey = await M.proofKey(this.secret, 'welcome');
      }
      this.kp = await M.newKeyPackage(this.cs, { id: selfId, name });
      if (mls.group || this.groupSeen) await this.sendKeyPackage();
      else await this.create();
    });
  }

  /** reset forgets the last session's group and keys (a fresh join). */
  reset() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.kpTimer);
    this.kpSent = 0;
    this.pendingAdds.clear();
    this.present.clear();
    for (const id of [...this.peers.keys()]) this.forgetPeer(id);
    this.dropGroup();
  }

  async create() {
    this.creating = true;
    this.group = await M.Group.create(this.cs, this.kp, enc.encode(crypto.randomUUID()));
    this.send({ kind: 'create' });
    await this.installEpoch(true);
  }

  /** sendKeyPackage publishes our KeyPackage (and proof), again every KP_RETRY_MS until welcomed. */
  async sendKeyPackage() {
    clearTimeout(this.kpTimer);
    if (this.group || !this.kp) return;
    if (this.kp.expires - Date.now() < KP_RENEW_MS) {
      // Committers refuse a KeyPackage past its lifetime: make a new one.
      this.kp = await M.newKeyPackage(this.cs, { id: this.selfId, name: this.selfName });
    }
    const msg = { kind: 'kp', data: b64.encode(this.kp.bytes) };
    if (this.proofKey) msg.proof = b64.encode(await M.makeProof(this.proofKey, this.kp.bytes, this.selfId, this.selfName));
    this.send(msg);
    if (!this.kpSent) performance.mark('parley:mls-kp');
    this.kpSent++;
    this.kpTimer = setTimeout(() => this.inOrder(() => this.sendKeyPackage()), KP_RETRY_MS);
  }

  send(msg) {
    this.handshakeBytes.sent += (msg.data?.length ?? 0) + (msg.welcome?.data?.length ?? 0);
    this.sig.mls(msg);
  }

  /** peerJoined notes a participant the server says is here. */
  peerJoined(id) {
    if (!this.enabled) return;
    this.inOrder(() => {
      if (this.departed.has(id)) {
        this.replayed(`the server announced ${id} again, who left`);
        return;
      }
      this.present.add(id);
      this.emit(this.peer(id));
    });
  }

  /**
   * replayed reports a replay we refused (a departed id or a used
   * KeyPackage): nothing changes, but the person sees the server is lying.
   */
  replayed(what) {
    console.warn(`parley: e2ee: ignored a replay: ${what}`);
    this.dispatchEvent(new CustomEvent('problem', {
      detail: { text: `Security warning: the server replayed an old message (${what}). It was ignored; the call's keys did not change.` },
    }));
  }

  /** peerLeft: the committer removes the leaver's leaf. */
  peerLeft(id) {
    if (!this.enabled) return;
    this.inOrder(async () => {
      this.departed.add(id);
      this.present.delete(id);
      this.pendingAdds.delete(id);
      this.forgetPeer(id);
      await this.maybeCommit();
    });
  }

  peer(id) {
    let p = this.peers.get(id);
    if (!p) {
      p = new PeerRecord(id);
      this.peers.set(id, p);
    }
    return p;
  }

  forgetPeer(id) {
    this.peers.delete(id);
    this.worker?.postMessage({ type: 'forget', peer: id });
  }

  /** onMls handles a relayed `mls` message (docs/protocol.md). */
  onMls(m) {
    if (!this.enabled || !m || typeof m !== 'object') return;
    if (m.kind === 'created') this.groupSeen = true;
    this.inOrder(async () => {
      if (!this.kp) return; // not started
      this.handshakeBytes.received += typeof m.data === 'string' ? m.data.length : 0;
      switch (m.kind) {
        case 'kp': await this.onKeyPackage(m); break;
        case 'commit': await this.onCommit(m); break;
        case 'welcome': await this.onWelcome(m); break;
        case 'created': await this.onCreated(m); break;
        case 'reset': await this.onReset(); break;
        default: break;
      }
    });
  }

  /**
   * onError handles the DS's refusals (`error` mls-stale, ref `mls`),
   * which name what lost: `of` 'create' or 'commit', a commit's `epoch`,
   * and the room's epoch now (`current`). A refusal of a commit we no
   * longer hold (we gave up waiting for its answer, COMMIT_ANSWER_MS, and
   * committed again) is not about the one in flight and is ignored.
   */
  onError(err) {
    if (!this.enabled || err?.code !== 'mls-stale') return;
    console.debug('parley: e2ee: the DS refused:', err.message);
    this.inOrder(async () => {
      if (err.of === 'create') {
        if (this.creating && this.group?.epoch === 0) await this.createLost();
        return;
      }
      if (err.of !== 'commit' || !this.inFlight || err.epoch !== this.inFlight.epoch) {
        console.debug('parley: e2ee: a refusal of a commit we no longer hold:', err.of, err.epoch);
        return;
      }
      // Our commit lost its epoch: the winner came before this refusal;
      // what we wanted to commit is still pending.
      this.inFlight = null;
      await this.maybeCommit();
    });
  }

  /**
   * onCreated: a group exists now. One of our own that the DS never
   * acknowledged lost to it (the DS accepts one create per group and never
   * tells its creator), even with a commit of ours on its way: the DS
   * refuses commits from anyone not holding its group, and that orphan
   * group's commit must never be applied by members of the real one.
   */
  async onCreated(m) {
    if (this.creating && this.group?.epoch === 0 && m.from !== this.selfId) {
      await this.createLost();
      return;
    }
    if (!this.group) await this.sendKeyPackage();
  }

  /**
   * createLost drops the group we created when another participant's
   * create won, and any commit we made in it, and asks to join theirs.
   * When a whole room re-joins at once (its node died, docs/cluster.md),
   * several create and the losers hear of the winner only after some
   * KeyPackages: before this, a loser committed in its own group and then
   * could apply none of the real group's commits, for good.
   */
  async createLost() {
    this.dropGroup();
    await this.sendKeyPackage();
  }

  /**
   * dropGroup forgets the group we hold and its keys, but not the call
   * (the peers, the replay defence): we are about to ask to join again.
   */
  dropGroup() {
    this.creating = false;
    this.group = null;
    this.inFlight = null;
    this.worker?.postMessage({ type: 'reset' });
    this.dataRing.clear();
    this.dataSend = null;
    this.active = { epoch: -1, leaf: -1, groupSize: 0 };
    this.dataActive = { epoch: -1, leaf: -1 };
    this.code = '';
    this.memberKeys = new Set();
    this.memberIds = new Set();
  }

  async onKeyPackage(m) {
    const from = m.from;
    if (typeof from !== 'string' || from === this.selfId || typeof m.data !== 'string' || m.data.length > MAX_KP_BYTES * 2) return;
    if (this.departed.has(from)) {
      this.replayed(`a KeyPackage of ${from}, who left`);
      return;
    }
    let bytes;
    let proof = null;
    try {
      bytes = b64.decode(m.data);
      if (typeof m.proof === 'string') proof = b64.decode(m.proof);
    } catch {
      return;
    }
    const r = await M.admit({ bytes, from, proof, key: this.proofKey });
    if (r.expired) {
      // Our clients make a new KeyPackage before theirs runs out: one
      // past its lifetime is an old one replayed (or a clock far off).
      this.replayed(`a KeyPackage of ${from}: ${r.why}`);
      return;
    }
    if (this.spent(r.key)) {
      // In our group now (a newcomer re-sends until welcomed: not a
      // replay), or used or refused before — as we saw it, or as the
      // group's spent list says, which a member who joined later has too.
      if (!this.memberKeys.has(r.key)) this.replayed(`a KeyPackage of ${from} that was already used`);
      return;
    }
    const p = this.peer(from);
    if (!r.ok) {
      // A KeyPackage that is itself wrong (a bad proof) stays refused; one
      // relayed under another sender's id is the relay's lie, not its own.
      if (r.noProof && r.key) this.refusedKeys.add(r.key);
      if (!p.refused) {
        p.refused = r.noProof ? 'could not prove they have the invite link' : r.why;
        console.warn(`parley: e2ee: not admitting ${from}: ${r.why}`);
        this.emit(p);
        this.dispatchEvent(new CustomEvent('refused', { detail: { id: from, name: r.who?.name ?? '', why: p.refused } }));
      }
      return;
    }
    if (this.group && this.group.leafOf(from) >= 0) return; // already a member
    this.pendingAdds.set(from, { bytes, keyPackage: r.keyPackage, name: r.who.name, key: r.key });
    await this.maybeCommit();
  }

  /**
   * spent says whether a KeyPackage (by its signature key) was in our
   * group, is on the group's spent list, or was refused: never add it.
   */
  spent(key) {
    return !!key && (this.usedKeys.has(key) || this.refusedKeys.has(key) || !!this.group?.spent(key));
  }

  /** committer: the present member with the lowest leaf. */
  committerLeaf() {
    if (!this.group) return -1;
    const live = this.group.members().filter((mb) => mb.id === this.selfId || this.present.has(mb.id));
    return live.length ? Math.min(...live.map((mb) => mb.leaf)) : -1;
  }

  /** maybeCommit commits pending adds and removals when we are the committer. */
  async maybeCommit() {
    // An answer lost with a dropped socket must not stop us for good.
    if (this.inFlight && Date.now() - this.inFlight.at > COMMIT_ANSWER_MS) this.inFlight = null;
    if (!this.group || this.inFlight || this.committerLeaf() !== this.group.leaf) return;
    const members = this.group.members();
    const removes = members.filter((mb) => mb.id !== this.selfId && (!this.present.has(mb.id) || this.hostileKeys.has(mb.key)))
      .map((mb) => mb.leaf);
    const addIds = [...this.pendingAdds.keys()].filter((id) => this.present.has(id) && !this.departed.has(id) &&
      this.group.leafOf(id) < 0 && !this.spent(this.pendingAdds.get(id).key));
    if (!removes.length && !addIds.length) return;
    let r;
    try {
      r = await this.group.commit({ removes, adds: addIds.map((id) => this.pendingAdds.get(id).keyPackage) });
    } catch (err) {
      // ts-mls refused an added KeyPackage (its signature, its lifetime,
      // a capability the group needs such as SPENT_EXTENSION): drop this
      // batch of adds — an honest newcomer re-sends within KP_RETRY_MS —
      // so it cannot block the removals and every later commit.
      console.warn('parley: e2ee: a commit with these KeyPackages failed, dropping them:', addIds, err?.message);
      for (const id of addIds) this.pendingAdds.delete(id);
      if (addIds.length && removes.length) await this.maybeCommit();
      return;
    }
    const msg = { kind: 'commit', epoch: this.group.epoch, data: b64.encode(r.commit) };
    if (r.welcome) {
      msg.welcome = { to: addIds, data: b64.encode(r.welcome) };
      if (this.welcomeKey) {
        const { authenticator } = await r.next.epochKeys();
        msg.welcome.tag = b64.encode(await M.welcomeTag(this.welcomeKey, authenticator));
      }
    }
    this.inFlight = { epoch: this.group.epoch, data: msg.data, next: r.next, at: Date.now() };
    this.send(msg);
  }

  async onCommit(m) {
    if (!this.group || m.epoch !== this.group.epoch || typeof m.data !== 'string') return;
    const mine = m.from === this.selfId && this.inFlight?.epoch === m.epoch && this.inFlight.data === m.data;
    if (mine) {
      this.group.adopt(this.inFlight.next);
      this.inFlight = null;
    } else if (m.from === this.selfId) {
      return; // ours but not the one we hold: cannot be processed, and never sent twice
    } else {
      try {
        const { removed } = await this.group.process(b64.decode(m.data));
        if (removed) {
          // The others removed us (the server said we left): ask again.
          this.dropGroup();
          this.kp = await M.newKeyPackage(this.cs, { id: this.selfId, name: this.selfName });
          await this.sendKeyPackage();
          return;
        }
      } catch (err) {
        // The others move on without us, or the server relayed a commit
        // that is no member's: either way the person must know, since
        // nothing here heals it (docs/e2ee.md, Not done yet).
        console.warn('parley: e2ee: a commit did not apply:', err.message);
        this.dispatchEvent(new CustomEvent('problem', {
          detail: { text: 'A change to the call\'s keys did not apply here: you may not see or hear the others, nor they you. If that lasts, leave and join again.' },
        }));
        return;
      }
    }
    // Another member's commit won the epoch ours was made for: ours is now
    // void, and its mls-stale (which follows) lets us commit again.
    if (this.inFlight && this.inFlight.epoch < this.group.epoch) this.inFlight.lost = true;
    this.creating = false;
    await this.installEpoch(false);
    await this.maybeCommit();
  }

  async onWelcome(m) {
    if (this.group || typeof m.data !== 'string') return;
    let g;
    try {
      g = await M.Group.join(this.cs, this.kp, b64.decode(m.data));
    } catch (err) {
      console.warn('parley: e2ee: a welcome that is not for us:', err.message);
      return;
    }
    if (this.welcomeKey) {
      const { authenticator } = await g.epochKeys();
      let tag = null;
      try {
        tag = typeof m.tag === 'string' ? b64.decode(m.tag) : null;
      } catch { /* a bad tag fails below */ }
      if (!(await M.checkWelcomeTag(this.welcomeKey, tag, authenticator))) {
        console.warn('parley: e2ee: refusing a group that does not know the invite link\'s secret');
        this.dispatchEvent(new CustomEvent('problem', {
          detail: { text: 'Security warning: the group this call offered does not know the secret of your invite link. Nothing is sent to it; waiting for the real one.' },
        }));
        return;
      }
    }
    clearTimeout(this.kpTimer);
    this.group = g;
    await this.installEpoch(true);
    await this.maybeCommit();
  }

  async onReset() {
    // Every holder of the group left. If we were one, the server is wrong
    // and we keep ours; otherwise the first create wins.
    if (this.group) return;
    await this.create();
  }

  /**
   * installEpoch hands the new epoch's keys to the worker and the data
   * ring and switches our sending to it, all at once (a receiver still
   * without it holds our frames, NEXT_EPOCH_WAIT_MS), and retires older
   * epochs GRACE_MS later.
   */
  async installEpoch(fresh) {
    const g = this.group;
    const k = await g.epochKeys();
    const members = g.members();
    /** @type {[number, string][]} leaf index and id */
    const list = members.map((mb) => [mb.leaf, mb.id]);
    this.worker?.postMessage({ type: 'epoch', epoch: k.epoch, base: k.media, groupSize: k.groupSize, members: list, self: k.leaf });
    this.dataRing.add({ epoch: k.epoch, base: k.data, groupSize: k.groupSize, members: list });
    // Data uses the new epoch at once, unlike media: a newcomer has no
    // older one, and a member whose commit is still on its way holds the
    // message until it arrives (openData, EPOCH_WAIT_MS). A chat message
    // must not be lost; a media frame may.
    this.dataActive = { epoch: k.epoch, leaf: k.leaf };
    this.dispatchEvent(new CustomEvent('sending', { detail: { epoch: k.epoch } }));
    this.code = k.code;
    this.epochs++;
    const ids = new Set(members.map((mb) => mb.id));
    const readded = fresh ? [] : members.filter((mb) => mb.key && !this.memberKeys.has(mb.key) && this.usedKeys.has(mb.key));
    for (const mb of members) if (mb.key) this.usedKeys.add(mb.key);
    this.memberKeys = new Set(members.map((mb) => mb.key));
    for (const mb of members) {
      if (mb.id === this.selfId) continue;
      const p = this.peer(mb.id);
      if (readded.includes(mb)) this.hostileAdd(p, mb);
      const changed = p.leaf !== mb.leaf || p.name !== mb.name;
      p.leaf = mb.leaf;
      p.name = mb.name;
      this.pendingAdds.delete(mb.id);
      if (changed) this.emit(p);
    }
    for (const p of this.peers.values()) {
      if (!ids.has(p.id) && p.leaf >= 0) {
        p.leaf = -1;
        this.emit(p);
      }
    }
    for (const p of this.peers.values()) this.emit(p); // the room code changed for every lock
    // Our sending switches at once: a receiver that has not installed the
    // epoch yet holds our frames for it (NEXT_EPOCH_WAIT_MS, the worker).
    // A new member starts every video of ours on a key frame.
    const added = !fresh && members.some((mb) => mb.id !== this.selfId && !this.memberIds.has(mb.id));
    this.memberIds = ids;
    this.active = { epoch: k.epoch, leaf: k.leaf, groupSize: k.groupSize };
    this.worker?.postMessage({ type: 'send-epoch', epoch: k.epoch, keyFrame: added });
    this.later(() => {
      if (this.group !== g) return;
      this.dataRing.retireBefore(k.epoch);
      this.worker?.postMessage({ type: 'retire', before: k.epoch });
    }, GRACE_MS);
    // Join → in the group, measurable (BenchmarkJoinToFirstFrame, the
    // browser's performance panel): a fresh epoch is our first this session.
    if (fresh) performance.mark('parley:mls-member');
    this.dispatchEvent(new CustomEvent('group', { detail: { epoch: k.epoch, code: k.code } }));
  }

  /**
   * hostileAdd: a member's commit (the DS ordered it, so every member
   * applies it: refusing it alone would split the room) added a
   * KeyPackage that was in our group before. Our own
   * committer never does (onKeyPackage); a member who joined later may not
   * know it. We show it, and as committer remove that leaf.
   */
  hostileAdd(p, mb) {
    if (p.hostile) return;
    p.hostile = true;
    p.refused = 'added again with a KeyPackage already used (a replay)';
    this.hostileKeys.add(mb.key);
    console.warn(`parley: e2ee: a commit re-added ${mb.id} with a used KeyPackage`);
    this.dispatchEvent(new CustomEvent('problem', {
      detail: { text: `Security warning: a member's commit added ${mb.name || mb.id} again with an invitation that was already used. They are shown as refused and will be removed.` },
    }));
  }

  onWorker(m) {
    if (!m || m.type !== 'stats') return;
    this.stats = { encrypted: m.encrypted, dropped: m.dropped, timing: m.timing };
    for (const [id, c] of Object.entries(m.peers ?? {})) {
      const p = this.peers.get(id);
      if (!p) continue;
      const dd = c.decrypted - p.decrypted;
      const df = c.failed - p.failed;
      // Not a key problem: frames under an epoch whose commit had not
      // reached us yet (early), and duplicates the replay check dropped
      // (a healthy mesh call showed 1–12; a server that replays frames on
      // purpose would report its own health counts as it liked anyway).
      const early = (c.early ?? 0) + (c.replayed ?? 0);
      const de = Math.min(Math.max(0, early - p.early), Math.max(0, df));
      p.decrypted = c.decrypted;
      p.failed = c.failed;
      p.early = early;
      p.why = { early: c.early ?? 0, late: c.late ?? 0, replayed: c.replayed ?? 0, forged: c.forged ?? 0, misbound: c.misbound ?? 0 };
      const mis = (c.misbound ?? 0) > p.misbound;
      p.misbound = c.misbound ?? 0;
      this.unreported.decrypted += Math.max(0, dd);
      // Frames that beat the sender's keys are normal, not an alarm: a
      // batch counts as failed only if the keys were there at the last
      // one, and never its frames under an epoch whose commit had not
      // reached us yet (a join's, each time someone joins) nor the
      // duplicates dropped (see above).
      if (p.keyedBefore) {
        this.unreported.failed += Math.max(0, df - de);
        this.unreported.beforeKey += de;
      } else {
        this.unreported.beforeKey += Math.max(0, df);
      }
      p.keyedBefore = p.leaf >= 0;
      const before = this.peerState(p);
      if (dd > 0) p.media = 'ok';
      else if (df > 0 && (p.leaf >= 0 || Date.now() - p.since > KEY_WAIT_MS)) p.media = 'failing';
      if (mis) p.media = 'failing';
      if (this.peerState(p) !== before || df > 0) this.emit(p);
    }
  }

  emit(p) {
    this.dispatchEvent(new CustomEvent('peer', { detail: { id: p.id, info: this.peerInfo(p.id) } }));
  }

  /** peerState is what the tile's lock shows. */
  peerState(p) {
    if (p.refused && (p.leaf < 0 || p.hostile)) return 'refused';
    if (p.leaf < 0 || !this.group) return 'waiting';
    if (p.media === 'failing') return 'failing';
    return this.secret ? 'verified' : 'unverified';
  }

  /**
   * peerInfo: {state ('verified'|'unverified'|'waiting'|'refused'|'failing'),
   * auth, media, code (the room code), name (from their MLS credential),
   * leaf, decrypted, failed, why (failures by reason: early, late, replayed,
   * forged, misbound), misbound, refused (why), gotKey (a member)},
   * or null for someone we know nothing of.
   */
  peerInfo(id) {
    const p = this.peers.get(id);
    if (!p) return null;
    const member = p.leaf >= 0 && !!this.group && !p.hostile;
    return {
      state: this.peerState(p),
      auth: member ? (this.secret ? 'verified' : 'unverified') : (p.refused ? 'refused' : 'waiting'),
      media: p.media, code: member ? this.code : '', name: member ? p.name : '', leaf: p.leaf,
      decrypted: p.decrypted, failed: p.failed, why: p.why, misbound: p.misbound, refused: p.refused, gotKey: member,
    };
  }

  /** nameOf is a member's credential name, or '' (not a member). */
  nameOf(id) {
    const p = this.peers.get(id);
    return p && p.leaf >= 0 ? p.name : '';
  }

  // --- transforms -----------------------------------------------------

  /** attachSender encrypts what a sender sends (kind: 'audio'|'video'). */
  attachSender(sender, kind) {
    if (!this.enabled || this.attached.has(sender)) return;
    this.attached.add(sender);
    this.transform(sender, { op: 'encrypt', kind });
  }

  /**
   * attachReceiver decrypts what a receiver gets. peerId: whose frames it
   * must carry (mesh: the link's peer); null in SFU mode until bind()
   * names the participant the SFU's `tracks` message gave it.
   */
  attachReceiver(receiver, peerId) {
    if (!this.enabled || this.attached.has(receiver)) return;
    this.attached.add(receiver);
    const rid = this.nextRid++;
    this.rids.set(receiver, rid);
    this.transform(receiver, { op: 'decrypt', kind: receiver.track.kind, peer: peerId ?? '', rid });
  }

  /**
   * bind tells the worker whose frames an SFU receiver must carry: frames
   * under any other member's key are dropped and counted (misbound), so
   * the SFU cannot show one person's media on another's tile.
   */
  bind(receiver, peerId) {
    const rid = this.rids.get(receiver);
    if (rid) this.worker?.postMessage({ type: 'bind', rid, peer: peerId });
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

  /** nextEvent resolves with the next event of a type, or null after ms. */
  nextEvent(type, ms) {
    return new Promise((resolve) => {
      const done = (v) => {
        clearTimeout(timer);
        this.removeEventListener(type, on);
        resolve(v);
      };
      const on = (ev) => done(ev);
      const timer = setTimeout(() => done(null), ms);
      this.addEventListener(type, on);
    });
  }

  /** joining says whether someone who just joined the call is still on the way into the group. */
  joining() {
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (this.present.has(p.id) && p.leaf < 0 && !p.refused && now - p.since < JOINER_MS) return true;
    }
    return false;
  }

  /** settle waits (at most SETTLE_MS) until nobody is on the way into the group. */
  async settle() {
    const end = Date.now() + this.settleMs;
    while (this.group && this.joining() && Date.now() < end) {
      await this.nextEvent('group', Math.max(1, Math.min(500, end - Date.now())));
    }
  }

  /** sealData encrypts bytes for the room under our current data key (SFrame, RFC form). */
  async sealData(bytes) {
    if (this.closed) throw new Error('e2ee: the call ended');
    if (!this.enabled) return bytes;
    if (this.dataActive.epoch < 0) await this.nextEvent('sending', this.joinWaitMs);
    await this.settle();
    const { epoch, leaf } = this.dataActive;
    if (epoch < 0) throw new Error('e2ee: not in the group yet');
    // The key (a promise) and the counter are taken before any await, so
    // concurrent calls can never use one nonce twice (AES-GCM's one rule).
    if (this.dataSend?.epoch !== epoch) {
      const k = this.dataRing.key(epoch, leaf);
      if (!k) throw new Error('e2ee: no data key for our epoch');
      this.dataSend = { epoch, key: k.key, ctr: 0n };
    }
    const s = this.dataSend;
    const ctr = s.ctr++;
    return sframeEncrypt(await s.key, ctr, EMPTY, bytes);
  }

  /** openData decrypts bytes sealed by senderId; throws when they do not open. */
  async openData(senderId, bytes) {
    if (this.closed) throw new Error('e2ee: the call ended');
    if (!this.enabled) return bytes;
    const { kid, ctr } = decodeHeader(bytes);
    let entry = this.dataRing.lookup(Number(kid));
    // It came before the epoch that makes its key: before the commit, or,
    // for a newcomer, before the Welcome (a message sent to the room the
    // moment we were added). Wait for the epochs that come meanwhile.
    const end = Date.now() + (this.dataActive.epoch < 0 ? this.joinWaitMs : EPOCH_WAIT_MS);
    while (!entry && !this.closed && Date.now() < end && (await this.nextEvent('group', end - Date.now()))) {
      entry = this.dataRing.lookup(Number(kid));
    }
    if (!entry || entry.peer !== senderId) throw new Error(`e2ee: no key of ${senderId} for this message`);
    const pt = await sframeDecrypt(await entry.key, EMPTY, bytes);
    if (!this.dataRing.fresh(entry, ctr)) throw new Error(`e2ee: a replayed message from ${senderId}`);
    return pt;
  }

  /**
   * takeCounts returns the frames decrypted and failed since the last call,
   * for the anonymous health report the server aggregates (`stats`):
   * beforeKey are failures before the sender's key arrived (normal), failed
   * the ones after (an alarm).
   */
  takeCounts() {
    const c = this.unreported;
    this.unreported = { decrypted: 0, failed: 0, beforeKey: 0 };
    return c;
  }

  /** info is the debug view for tests (window.parley.e2ee()). */
  info() {
    return {
      enabled: this.enabled,
      mode: this.mode,
      verifiable: !!this.secret,
      member: !!this.group,
      epoch: this.group ? this.group.epoch : -1,
      sendEpoch: this.active.epoch,
      leaf: this.group ? this.group.leaf : -1,
      kid: this.active.epoch >= 0 ? makeKid(this.active.epoch, this.active.leaf, this.active.groupSize) : -1,
      roomCode: this.group ? this.code : '',
      members: this.group ? this.group.members().map(({ leaf, id, name }) => ({ leaf, id, name })) : [],
      epochs: this.epochs,
      creating: this.creating,
      committing: !!this.inFlight,
      // For a newcomer stuck 'waiting': whether MLS loaded (started), how
      // many KeyPackages it sent, and which the committer holds (pending).
      started: !!this.kp,
      kpSent: this.kpSent,
      pending: [...this.pendingAdds.keys()],
      present: [...this.present],
      handshakeBytes: { ...this.handshakeBytes },
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
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.kpTimer);
    this.worker?.terminate();
    this.worker = null;
    this.closed = true;
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
