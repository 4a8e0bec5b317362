// @ts-check
// Replay protection for SFrame (RFC 9605 §7.4 leaves it to the
// application; docs/e2ee.md "Replay"). Each sender key (KID) counts its
// frames and messages from 0, and every (KID, CTR) is used once, so a
// receiver that remembers which counters it has accepted can drop a frame
// or message the SFU (or anyone on the path) sends twice.
//
// The counters of one key are shared by audio, video, screen share and the
// data channels, which arrive out of order relative to each other (video
// waits in a jitter buffer while audio runs ahead; a sealed message may
// wait for its channel to drain). So the window is wide: REPLAY_WINDOW
// counters below the highest one accepted are still taken once each;
// anything older is dropped. At ~100 frames a second that is ten minutes.

/** How far below the highest accepted counter a counter is still accepted. */
export const REPLAY_WINDOW = 65536;

export class ReplayWindow {
  constructor(size = REPLAY_WINDOW) {
    if (size % 32 !== 0) throw new Error('replay window size must be a multiple of 32');
    this.size = size;
    this.bits = new Uint32Array(size / 32);
    this.top = -1; // highest accepted counter; -1: none yet
  }

  /**
   * accept reports whether ctr is new, and records it. Call it only for a
   * frame that authenticated: a forged counter must not move the window.
   * @param {bigint|number} ctr
   */
  accept(ctr) {
    if (typeof ctr === 'bigint') {
      if (ctr > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      ctr = Number(ctr);
    }
    if (!Number.isSafeInteger(ctr) || ctr < 0) return false;
    if (ctr > this.top) {
      if (ctr - this.top >= this.size) this.bits.fill(0);
      else for (let c = this.top + 1; c < ctr; c++) this.clear(c);
      this.top = ctr;
      this.set(ctr);
      return true;
    }
    if (this.top - ctr >= this.size) return false; // too old to tell
    if (this.has(ctr)) return false;
    this.set(ctr);
    return true;
  }

  has(c) {
    const i = c % this.size;
    return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  set(c) {
    const i = c % this.size;
    this.bits[i >>> 5] |= 1 << (i & 31);
  }

  clear(c) {
    const i = c % this.size;
    this.bits[i >>> 5] &= ~(1 << (i & 31));
  }
}
