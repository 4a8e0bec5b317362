// @ts-check
// The SFrame keys of a room's MLS epochs (RFC 9605 §5.2), DOM-free: used by
// the E2EE worker for frames and by the controller for data. Each epoch
// brings one base key (from the MLS exporter, mls.js) and the members'
// leaves; a sender's key is derive_key_salt(base, KID) with
// KID = (sender_index << E) + (epoch mod 2^E), so a KID names its sender's
// leaf and the epoch, and a frame opens only under its sender's key.
//
// Ownership: one EpochRing per owner (the worker has its own, the
// controller its own); it is changed only through its methods.
//
// Lifetimes (docs/e2ee.md): a new epoch is installed at once for
// receiving; the epochs before it are retired GRACE_MS later, their base
// keys and derived keys deleted, and a KID of a retired epoch never opens
// again (its low bits may only come back with a newer epoch), so anything
// recorded before a leave is refused after the grace.

import { SFrameKey } from './sframe.js';
import { ReplayWindow } from './replay.js';

/**
 * E of RFC 9605 §5.2: the epoch bits in a KID. 2^8 epochs may be in use
 * at once; a room changes epoch only on joins and leaves, and old epochs
 * live seconds, so 256 is far more than needed while keeping KIDs short.
 */
export const EPOCH_BITS = 8;

// --- KIDs (RFC 9605 §5.2) ----------------------------------------------

/**
 * indexBits is S of RFC 9605 §5.2: the smallest S with group_size < 2^S,
 * group_size being the tree's leaf count (leaf indexes run below it).
 */
export function indexBits(groupSize) {
  let s = 0;
  while (groupSize >= 2 ** s) s++;
  return s;
}

/**
 * makeKid: KID = (context << (S + E)) + (sender_index << E) + (epoch % 2^E).
 * Numbers stay below 2^53 for any room Parley allows.
 */
export function makeKid(epoch, index, groupSize, context = 0) {
  const s = indexBits(groupSize);
  const e = 2 ** EPOCH_BITS;
  return context * 2 ** (s + EPOCH_BITS) + index * e + (Number(epoch) % e);
}

/** kidEpochBits is the epoch's low E bits of a KID. */
export function kidEpochBits(kid) {
  return kid % 2 ** EPOCH_BITS;
}

/** kidIndex reads the sender index, given the group size of the KID's epoch. */
export function kidIndex(kid, groupSize) {
  const s = indexBits(groupSize);
  return Math.floor(kid / 2 ** EPOCH_BITS) % 2 ** s;
}

// --- epochs --------------------------------------------------------------

/**
 * How long the epochs before a new one still open frames: frames in
 * flight when the epoch changed (network delay, jitter buffer) arrive
 * within this; a replay of older frames does not.
 */
export const GRACE_MS = 3000;

/**
 * A frame under the epoch right after our newest waits this long for it
 * (its commit is still on its way to us, or still being processed) before
 * it is dropped. Senders switch to a new epoch as soon as they have it, so
 * a newcomer sees its first frames without waiting for the slowest
 * member; a member that is slower than its senders holds their frames
 * this long instead of losing them. (Senders used to wait 500 ms before
 * switching, so that receivers had the epoch first: half a second of
 * every join, BenchmarkJoinToFirstFrame.)
 */
export const NEXT_EPOCH_WAIT_MS = 1000;

/**
 * How many epochs past our newest a KID may name and still count as one
 * whose commit is on its way (isAhead): a few joins in a row while this
 * member is busy; far more than a room changes epoch in the seconds a
 * commit takes to arrive, far fewer than the 2^E a KID can name.
 */
export const AHEAD_EPOCHS = 16;

/**
 * @typedef {{epoch: number, base: Uint8Array, groupSize: number,
 *   members: Map<number, string>, keys: Map<number, Promise<SFrameKey>>,
 *   windows: Map<number, ReplayWindow>}} Epoch
 */

export class EpochRing {
  constructor() {
    /** @type {Map<number, Epoch>} by the epoch's low E bits */
    this.byBits = new Map();
    /** the newest epoch installed, -1 before any */
    this.newest = -1;
    /** epochs below this are retired: never accepted again */
    this.floor = 0;
  }

  /**
   * add installs an epoch: base key and the members' leaves → ids. An
   * epoch at or below one already retired is refused (returns false).
   * @param {{epoch: number, base: Uint8Array, groupSize: number, members: Iterable<[number, string]>}} e
   */
  add({ epoch, base, groupSize, members }) {
    if (epoch < this.floor) return false;
    const bits = kidEpochBits(epoch);
    const old = this.byBits.get(bits);
    if (old && old.epoch > epoch) return false;
    // RFC 9605 §5.2: an old epoch goes when a new one with its low bits comes.
    this.byBits.set(bits, { epoch, base, groupSize, members: new Map(members), keys: new Map(), windows: new Map() });
    if (epoch > this.newest) this.newest = epoch;
    return true;
  }

  /** retireBefore deletes every epoch older than `epoch` (after the grace). */
  retireBefore(epoch) {
    this.floor = Math.max(this.floor, epoch);
    for (const [bits, e] of this.byBits) {
      if (e.epoch < epoch) {
        e.base.fill(0);
        this.byBits.delete(bits);
      }
    }
  }

  /** clear forgets everything (a new session, a fresh join). */
  clear() {
    this.retireBefore(Infinity);
    this.floor = 0;
    this.newest = -1;
  }

  /**
   * isNext says whether a KID names the epoch right after the newest one
   * installed (its low bits), which is not installed yet: a frame under it
   * is worth holding until it is (NEXT_EPOCH_WAIT_MS).
   */
  isNext(kid) {
    if (this.newest < 0 || !Number.isSafeInteger(kid) || kid < 0) return false;
    return kidEpochBits(kid) === kidEpochBits(this.newest + 1) && !this.has(this.newest + 1);
  }

  /**
   * isAhead says whether a KID names an epoch after the newest one
   * installed, by at most AHEAD_EPOCHS (or any epoch, before the first):
   * its commit has not reached us yet, or is still being processed. A
   * frame under it failing is join latency, not an alarm; one under a
   * retired or unknown epoch is.
   */
  isAhead(kid) {
    if (!Number.isSafeInteger(kid) || kid < 0) return false;
    if (this.newest < 0) return true;
    const e = 2 ** EPOCH_BITS;
    const d = (kidEpochBits(kid) - kidEpochBits(this.newest) + e) % e;
    return d >= 1 && d <= AHEAD_EPOCHS && !this.has(this.newest + d);
  }

  /** has says whether an epoch is installed and not retired. */
  has(epoch) {
    return this.byBits.get(kidEpochBits(epoch))?.epoch === epoch;
  }

  /** key returns the SFrame key of a leaf in an epoch (derived once). */
  key(epoch, leaf) {
    const e = this.byBits.get(kidEpochBits(epoch));
    if (!e || e.epoch !== epoch) return null;
    const kid = makeKid(epoch, leaf, e.groupSize);
    let k = e.keys.get(leaf);
    if (!k) {
      k = SFrameKey.derive(e.base, kid);
      e.keys.set(leaf, k);
    }
    return { kid, key: k };
  }

  /**
   * lookup finds who a KID belongs to: {epoch, leaf, peer, key} or null
   * (an unknown or retired epoch, or a leaf that is not a member).
   */
  lookup(kid) {
    if (!Number.isSafeInteger(kid) || kid < 0) return null;
    const e = this.byBits.get(kid % 2 ** EPOCH_BITS);
    if (!e) return null;
    const leaf = kidIndex(kid, e.groupSize);
    if (makeKid(e.epoch, leaf, e.groupSize) !== kid) return null; // a context or bits we never use
    const peer = e.members.get(leaf);
    if (peer === undefined) return null;
    return { epoch: e.epoch, leaf, peer, key: this.key(e.epoch, leaf).key };
  }

  /** fresh records a counter that authenticated; false for a replay. */
  fresh(entry, ctr) {
    const e = this.byBits.get(kidEpochBits(entry.epoch));
    if (!e || e.epoch !== entry.epoch) return false;
    let w = e.windows.get(entry.leaf);
    if (!w) {
      w = new ReplayWindow();
      e.windows.set(entry.leaf, w);
    }
    return w.accept(ctr);
  }
}
