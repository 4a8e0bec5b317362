// @ts-check
// File transfer, DOM-free (docs/datachannels.md "File transfer"): the
// sending and receiving ends of one transfer to one participant, chunking,
// flow control and the integrity check. files.js puts a UI on them;
// channels.js carries their messages.
//
// Integrity. WebCrypto has no incremental SHA-256, and hashing a 2 GiB file
// in one call would hold it in memory. So each chunk is hashed on its own
// and the file's digest is
//
//   root = SHA-256( SHA-256(chunk 0) ‖ SHA-256(chunk 1) ‖ … ‖ SHA-256(chunk n−1) )
//
// over the chunk digests in order, with a fixed chunk size announced in the
// offer — a two-level hash list, as collision-resistant as SHA-256 itself
// for a fixed chunking. The sender sends the root last (`file-end`); the
// receiver computes it over what it received and offers the download only
// when both agree. A tampered, lost, duplicated or reordered chunk changes
// the root. Memory: 32 bytes per chunk (2 MiB for a 2 GiB file); the data
// itself goes into Blob parts as it arrives.
//
// Flow control. Two levels: the data channel's bufferedAmount (the sender's
// own queue, via bufferedAmountLowThreshold in channels.js), and an
// end-to-end window — at most WINDOW chunks sent and not yet acknowledged by
// the receiver (`file-ack` {next}). The window is what keeps a slow
// receiver behind the SFU from filling the SFU's per-recipient queue (1 MiB,
// after which it closes that recipient's channel), so one slow download
// never slows chat or anyone else.
//
// The switch. Chunks follow the path the media of that participant uses.
// When the path under a transfer changes (mesh → SFU or back) the sender
// rewinds to the last acknowledged chunk and goes on along the new path; the
// receiver drops duplicates, and on a gap (a chunk lost with the old path)
// asks for a resend from the first missing chunk (`file-ack` {next, resync}).
// Whatever happens, the root check decides: the file is complete and right,
// or the transfer fails with a message — never a silently corrupt file.

import { CONTROL_CHARS } from './rooms.js';

/** Default and largest size of one file (max_file_bytes' default, docs/config.md). */
export const MAX_FILE_SIZE = 2 * 1024 ** 3;
/** Chunk size: small enough for every SCTP stack (pion's 64 KiB messages). */
export const CHUNK_SIZE = 32 * 1024;
/** Chunks in flight before the receiver's acknowledgement (512 KiB: half the SFU's per-recipient queue). */
export const WINDOW = 16;
/** The window on a mesh link, where no relay queue needs protecting (2 MiB). */
export const MESH_WINDOW = 64;
/** The sender reads the file this many chunks at a time (fewer, larger disk reads). */
const READ_CHUNKS = 16;
/** Chunk sends queued for sealing at once (sealing stays serial in channels.js; this overlaps reading and hashing with it). */
const PIPELINE = 8;
/** The receiver acknowledges every this many chunks. */
export const ACK_EVERY = 4;
/** The receive side collapses its parts into one Blob every this many bytes (memory flat). */
export const BLOB_FLUSH = 8 * 1024 * 1024;
/** A transfer whose receiver acknowledges nothing for this long fails. */
export const STALL_MS = 20000;
/** Resends a transfer may ask for before it fails (each is a path change or a loss). */
export const MAX_RESYNCS = 20;

/** chunkCount is how many chunks a file of size bytes has (an empty file has none). */
export function chunkCount(size, chunk = CHUNK_SIZE) {
  return Math.ceil(size / chunk);
}

/** hex renders bytes as lowercase hex. */
export function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** sha256 digests bytes with WebCrypto. */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/**
 * rootOf computes the file digest from its chunk digests, in order.
 * @param {(Uint8Array|Promise<Uint8Array>)[]} digests
 */
export async function rootOf(digests) {
  const all = await Promise.all(digests);
  const cat = new Uint8Array(all.length * 32);
  all.forEach((d, i) => cat.set(d, i * 32));
  return hex(await sha256(cat));
}

/** fileRoot computes a whole Blob's root (tests; the sender computes it while sending). */
export async function fileRoot(blob, chunk = CHUNK_SIZE) {
  const digests = [];
  for (let i = 0; i < chunkCount(blob.size, chunk); i++) {
    digests.push(sha256(new Uint8Array(await blob.slice(i * chunk, (i + 1) * chunk).arrayBuffer())));
  }
  return rootOf(digests);
}

/** TransferError is a transfer that ended badly, with human text. */
export class TransferError extends Error {}

/**
 * Progress measures bytes done and a speed (bytes/s, smoothed over about a
 * second) for the progress bars on both ends.
 */
export class Progress {
  constructor(total, now = () => performance.now()) {
    this.total = total;
    this.done = 0;
    this.speed = 0;
    this.now = now;
    this.mark = { t: now(), done: 0 };
  }

  set(done) {
    this.done = done;
    const t = this.now();
    const dt = t - this.mark.t;
    if (dt >= 250) {
      const inst = ((done - this.mark.done) * 1000) / dt;
      this.speed = this.speed ? this.speed * 0.5 + inst * 0.5 : inst;
      this.mark = { t, done };
    }
  }

  get fraction() {
    return this.total ? Math.min(1, this.done / this.total) : 1;
  }
}

/**
 * Outgoing is the sending end of one transfer to one participant.
 *
 * The owner (files.js) calls accept/decline/cancel/ack as the receiver's
 * messages arrive; the transfer calls `send` for its chunks and end, and
 * `route` before each chunk to learn the path (any value; a change means
 * the path moved, see the header).
 */
export class Outgoing extends EventTarget {
  /**
   * @param {{id: string, file: Blob & {name?: string}, to: string,
   *          send: (type: string, payload: object, data?: Uint8Array) => Promise<void>,
   *          route?: () => unknown, chunk?: number, window?: number|((route: unknown) => number),
   *          stallMs?: number}} o
   *   window: chunks in flight, or a function of the route (mesh links take more)
   */
  constructor({ id, file, to, send, route = () => null, chunk = CHUNK_SIZE, window = WINDOW, stallMs = STALL_MS }) {
    super();
    this.id = id;
    this.file = file;
    this.to = to;
    this.sendMsg = send;
    this.route = route;
    this.chunk = chunk;
    this.window = window;
    this.stallMs = stallMs;
    this.n = chunkCount(file.size, chunk);
    /** 'offered' | 'sending' | 'done' | 'declined' | 'cancelled' | 'failed' */
    this.state = 'offered';
    this.next = 0; // next chunk to send
    this.acked = 0; // the receiver has every chunk below this
    this.digests = new Array(this.n);
    this.progress = new Progress(file.size);
    this.wake = null;
    this.lastRoute = undefined;
    this.error = '';
  }

  /** offer is the payload of the `file-offer` message. */
  offer() {
    return { id: this.id, name: this.file.name || 'file', size: this.file.size, mime: this.file.type || '', chunk: this.chunk };
  }

  /** accept starts sending (the receiver said yes). */
  accept() {
    if (this.state !== 'offered') return;
    this.state = 'sending';
    this.fire();
    this.run().catch((err) => this.fail(err instanceof TransferError ? err.message : `Sending failed: ${err?.message ?? err}`));
  }

  decline() {
    if (this.state !== 'offered') return;
    this.state = 'declined';
    this.fire();
  }

  /** cancel ends the transfer (by us: tell the receiver; by them: just stop). */
  cancel(byUs, reason = '') {
    if (this.finished) return;
    this.state = 'cancelled';
    this.error = reason;
    this.poke();
    if (byUs) this.sendMsg('file-cancel', { id: this.id, reason }).catch(() => {});
    this.fire();
  }

  /** ack records the receiver's progress; resync asks for a resend from next. */
  ack(next, resync = false) {
    if (this.finished || next > this.n) return;
    if (next === this.n && !resync) {
      this.acked = this.n;
      this.progress.set(this.file.size);
      this.state = 'done';
      this.poke();
      this.fire();
      return;
    }
    if (next > this.acked) this.acked = next;
    if (resync) {
      this.resyncs = (this.resyncs ?? 0) + 1;
      if (this.resyncs > MAX_RESYNCS) {
        this.fail('The connection kept changing; the transfer was stopped.');
        return;
      }
      this.next = Math.min(this.next, next);
      this.acked = Math.max(Math.min(this.acked, next), 0);
      this.ended = false;
    }
    this.progress.set(Math.min(this.file.size, this.acked * this.chunk));
    this.poke();
    this.fire();
  }

  get finished() {
    return ['done', 'declined', 'cancelled', 'failed'].includes(this.state);
  }

  fail(message) {
    if (this.finished) return;
    this.state = 'failed';
    this.error = message;
    this.poke();
    this.sendMsg('file-cancel', { id: this.id, reason: message }).catch(() => {});
    this.fire();
  }

  poke() {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** sleep waits for an ack, a cancel or ms milliseconds; true if woken. */
  sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve(true);
      };
    });
  }

  /** bytesOf reads chunk i, READ_CHUNKS at a time. */
  async bytesOf(i) {
    const c = this.cache;
    if (!c || i < c.first || i >= c.first + c.count) {
      const first = i;
      const count = Math.min(READ_CHUNKS, this.n - i);
      const buf = await this.file.slice(first * this.chunk, (first + count) * this.chunk).arrayBuffer();
      this.cache = { first, count, bytes: new Uint8Array(buf) };
    }
    const { first, bytes } = this.cache;
    return bytes.subarray((i - first) * this.chunk, Math.min(bytes.length, (i - first + 1) * this.chunk));
  }

  async run() {
    const inflight = [];
    while (!this.finished) {
      const r = this.route();
      const window = typeof this.window === 'function' ? this.window(r) : this.window;
      if (this.lastRoute !== undefined && r !== this.lastRoute) {
        // The path moved: what was in flight on the old one may be lost.
        this.next = this.acked;
        this.ended = false;
      }
      this.lastRoute = r;
      if (this.next < this.n && this.next - this.acked < window) {
        const i = this.next++;
        const data = await this.bytesOf(i);
        this.digests[i] ??= sha256(data);
        if (this.finished) return;
        const sent = this.sendMsg('file-chunk', { id: this.id, i }, data);
        sent.catch(() => {}); // awaited below, or moot once the transfer ended
        inflight.push(sent);
        if (inflight.length >= PIPELINE) await inflight.shift();
        continue;
      }
      while (inflight.length) await inflight.shift();
      if (this.next >= this.n && !this.ended) {
        this.ended = true;
        await this.sendMsg('file-end', { id: this.id, n: this.n, root: await rootOf(this.digests) });
        continue;
      }
      const acked = this.acked;
      const woken = await this.sleep(this.stallMs);
      if (!woken && acked === this.acked && !this.finished) {
        // No answer for a long time: try the current path once more, then give up.
        if (this.stalled) throw new TransferError('The receiver stopped answering; the transfer failed.');
        this.stalled = true;
        this.next = this.acked;
        this.ended = false;
      } else {
        this.stalled = false;
      }
    }
  }

  fire() {
    this.dispatchEvent(new Event('change'));
  }
}

/** displayName is an offered file name without CONTROL_CHARS. */
export function displayName(name) {
  return String(name).replace(CONTROL_CHARS, '') || 'file';
}

/**
 * Incoming is the receiving end of one transfer: it checks order, hashes
 * every chunk, keeps the data in Blob parts, and verifies the root before
 * the download is offered.
 */
export class Incoming extends EventTarget {
  /**
   * @param {{offer: {id: string, name: string, size: number, mime: string, chunk: number}, from: string,
   *          send: (type: string, payload: object) => Promise<void>, maxSize?: number}} o
   */
  constructor({ offer, from, send, maxSize = MAX_FILE_SIZE }) {
    super();
    this.id = offer.id;
    this.name = displayName(offer.name);
    this.size = offer.size;
    // The sender's type is a claim: kept for the list, never given to the
    // Blob, so the saved file cannot open as a page on this origin.
    this.mime = offer.mime || 'application/octet-stream';
    this.chunk = offer.chunk;
    this.from = from;
    this.sendMsg = send;
    this.maxSize = maxSize;
    this.n = chunkCount(offer.size, offer.chunk);
    /** 'offered' | 'receiving' | 'verifying' | 'done' | 'declined' | 'cancelled' | 'failed' */
    this.state = 'offered';
    this.next = 0;
    this.digests = [];
    this.parts = [];
    this.pending = [];
    this.pendingBytes = 0;
    this.progress = new Progress(offer.size);
    /** @type {Blob|null} the verified file */
    this.blob = null;
    this.error = '';
    this.asked = -1; // the chunk a resync asked for last
  }

  /** tooLarge reports an offer over the cap (declined without asking). */
  get tooLarge() {
    return this.size > this.maxSize;
  }

  get finished() {
    return ['done', 'declined', 'cancelled', 'failed'].includes(this.state);
  }

  accept() {
    if (this.state !== 'offered') return;
    this.state = 'receiving';
    this.sendMsg('file-accept', { id: this.id }).catch(() => {});
    this.fire();
  }

  decline() {
    if (this.state !== 'offered') return;
    this.state = 'declined';
    this.sendMsg('file-decline', { id: this.id }).catch(() => {});
    this.fire();
  }

  cancel(byUs, reason = '') {
    if (this.finished) return;
    this.state = 'cancelled';
    this.error = reason;
    this.drop();
    if (byUs) this.sendMsg('file-cancel', { id: this.id, reason }).catch(() => {});
    this.fire();
  }

  fail(message) {
    if (this.finished) return;
    this.state = 'failed';
    this.error = message;
    this.drop();
    this.sendMsg('file-cancel', { id: this.id, reason: message }).catch(() => {});
    this.fire();
  }

  drop() {
    this.parts = [];
    this.pending = [];
    this.digests = [];
  }

  /** chunk takes chunk i; duplicates are dropped, a gap asks for a resend. */
  receive(i, data) {
    if (this.state !== 'receiving') return;
    if (i < this.next) return; // a duplicate (resent after a path change)
    if (i > this.next) {
      // Lost with the old path: ask once per gap for a resend.
      if (this.asked !== this.next) {
        this.asked = this.next;
        this.sendMsg('file-ack', { id: this.id, next: this.next, resync: true }).catch(() => {});
      }
      return;
    }
    const last = i === this.n - 1;
    const want = last ? this.size - i * this.chunk : this.chunk;
    if (data.length !== want || i >= this.n) {
      this.fail(`Chunk ${i} has the wrong size; the file was not saved.`);
      return;
    }
    const copy = data.slice();
    this.digests.push(sha256(copy));
    this.pending.push(copy);
    this.pendingBytes += copy.length;
    if (this.pendingBytes >= BLOB_FLUSH) this.flush();
    this.next++;
    this.progress.set(Math.min(this.size, this.next * this.chunk));
    if (this.next % ACK_EVERY === 0 && this.next < this.n) {
      this.sendMsg('file-ack', { id: this.id, next: this.next }).catch(() => {});
    }
    this.fire();
  }

  flush() {
    if (!this.pending.length) return;
    this.parts.push(new Blob(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** end checks the sender's root; on success the Blob is ready. */
  async end(n, root) {
    if (this.state !== 'receiving') return;
    if (n !== this.n) {
      this.fail('The sender announced a different file; nothing was saved.');
      return;
    }
    if (this.next < this.n) {
      // Chunks are missing (lost on a path that closed): ask for them.
      if (this.asked !== this.next) {
        this.asked = this.next;
        this.sendMsg('file-ack', { id: this.id, next: this.next, resync: true }).catch(() => {});
      }
      return;
    }
    this.state = 'verifying';
    this.fire();
    const mine = await rootOf(this.digests);
    if (this.state !== 'verifying') return;
    if (mine !== root) {
      this.fail('The file arrived damaged (its SHA-256 does not match); it was not saved.');
      return;
    }
    this.flush();
    this.blob = new Blob(this.parts, { type: 'application/octet-stream' });
    this.parts = [];
    this.digests = [];
    this.root = root;
    this.state = 'done';
    this.progress.set(this.size);
    this.sendMsg('file-ack', { id: this.id, next: this.n }).catch(() => {});
    this.fire();
  }

  fire() {
    this.dispatchEvent(new Event('change'));
  }
}
