// @ts-check
// The E2EE worker (docs/e2ee.md): encrypts every encoded frame we send and
// decrypts every frame we receive, with SFrame (sframe.js) under the keys
// of the room's MLS epochs (epochs.js) that the controller (e2ee.js)
// posts. One code path for both browser APIs: the streams of an
// RTCRtpScriptTransform (`rtctransform` event) and those posted from the
// main thread after createEncodedStreams go through the same pipe().
//
// It owns: our sending key and its frame counter (shared by every sender,
// so each (KID, CTR) is used once), the receivers' EpochRing, which
// participant each receiver must carry (mesh: the link's peer; SFU: bound
// by the controller from the SFU's `tracks`), and the counters it reports
// every STATS_MS:
//   {type: 'stats', encrypted, dropped, peers: {id: {decrypted, failed, early, misbound}}, timing}
// (early: of the failed, frames under an epoch we do not have yet, whose
// commit had not reached us or was still being processed: join latency,
// not an alarm)
// A frame is dropped, never passed on, when it does not decrypt (passed
// on, Opus plays ciphertext as loud noise), when its KID names a member
// other than the one its receiver carries (misbound: the server moved a
// track to another tile), or when its (KID, CTR) was already accepted (a
// replay, replay.js).
//
// Messages from the controller:
//   {type: 'epoch', epoch, base, groupSize, members: [[leaf, id]], self}  receive under it now
//   {type: 'send-epoch', epoch, keyFrame}   encrypt under our leaf's key of that epoch from now on;
//                                 keyFrame: start every video sender on a key frame (someone new can decode at once)
//   {type: 'retire', before}      delete every older epoch
//   {type: 'bind', rid, peer}     the receiver rid carries peer's media
//   {type: 'forget', peer}, {type: 'reset'}
//   {type: 'stream', readable, writable, options: {op, kind, peer, rid}}

import { protectFrame, unprotectFrame, parseFrame, clearBytes } from './sframe.js';
import { EpochRing, NEXT_EPOCH_WAIT_MS } from './epochs.js';

/** How often counters go to the controller. */
const STATS_MS = 1000;
/** Per-frame timings kept for the median / p99 (the last this many video frames). */
const TIMING_WINDOW = 600;

/** @type {{epoch: number, key: Promise<import('./sframe.js').SFrameKey>, ctr: bigint}|null} our sending key */
let send = null;
const ring = new EpochRing();
/** epoch → our leaf in it */
const selfLeaf = new Map();
/** receiver id → the participant whose frames it must carry (SFU) */
const binds = new Map();
/**
 * Our video senders' RTCRtpScriptTransformers, for generateKeyFrame.
 * (createEncodedStreams, Chromium's older API, has no way to ask for one
 * here: there the newcomer's decoder asks for a key frame itself.)
 * @type {Set<{generateKeyFrame?: (rid?: string) => Promise<unknown>}>}
 */
const videoSenders = new Set();
/** @type {Promise<void>|null} a wait for the epoch after the newest (NEXT_EPOCH_WAIT_MS), shared by every receiver; null when none */
let nextEpoch = null;
/** endNextEpochWait ends that wait: the epoch came, or the time is up. */
let endNextEpochWait = () => {};
let encrypted = 0;
let dropped = 0; // frames we could not encrypt (no key yet)
/**
 * Per sender. Of the failed: early (an epoch not ours yet), late (an epoch
 * retired or unknown), misbound, replayed, forged (did not authenticate);
 * the rest did not parse.
 * @type {Map<string, {decrypted: number, failed: number, early: number, late: number, misbound: number, replayed: number, forged: number}>}
 */
const peers = new Map();
const timing = { encrypt: [], decrypt: [], encBytes: 0 };

function count(peer) {
  let c = peers.get(peer);
  if (!c) {
    c = { decrypted: 0, failed: 0, early: 0, late: 0, misbound: 0, replayed: 0, forged: 0 };
    peers.set(peer, c);
  }
  return c;
}

function record(list, ms) {
  list.push(ms);
  if (list.length > TIMING_WINDOW) list.shift();
}

function summary(list) {
  if (!list.length) return null;
  const s = [...list].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, median: at(0.5), p99: at(0.99) };
}

async function encryptFrame(frame, controller, kind) {
  const data = new Uint8Array(frame.data);
  if (data.length === 0) {
    controller.enqueue(frame);
    return;
  }
  if (!send) {
    dropped++; // never send a frame in clear
    return;
  }
  const t0 = performance.now();
  const s = send;
  const ctr = s.ctr;
  s.ctr++;
  const out = await protectFrame(await s.key, ctr, data, clearBytes(kind, data));
  if (kind === 'video') {
    record(timing.encrypt, performance.now() - t0);
    timing.encBytes = data.length;
  }
  frame.data = out.buffer;
  encrypted++;
  controller.enqueue(frame);
}

async function decryptFrame(frame, controller, kind, expected) {
  const data = new Uint8Array(frame.data);
  if (data.length === 0) {
    controller.enqueue(frame);
    return;
  }
  const t0 = performance.now();
  let parsed;
  try {
    parsed = parseFrame(data);
  } catch {
    count(expected || 'unknown').failed++;
    return;
  }
  let entry = ring.lookup(Number(parsed.kid));
  if (!entry && ring.isNext(Number(parsed.kid))) {
    await waitNextEpoch(); // its sender has the next epoch before us
    entry = ring.lookup(Number(parsed.kid));
  }
  const who = expected || 'unknown';
  if (!expected || !entry) {
    const c = count(who);
    c.failed++; // an unbound SFU receiver, or no key for this KID
    if (ring.isAhead(Number(parsed.kid))) c.early++; // its epoch has not reached us yet
    else if (expected) c.late++; // its epoch was retired, or never ours
    return;
  }
  if (entry.peer !== expected) {
    const c = count(who);
    c.failed++;
    c.misbound++; // another member's frames on this participant's receiver
    return;
  }
  try {
    const out = await unprotectFrame(await entry.key, data, clearBytes(kind, data), parsed);
    if (!ring.fresh(entry, parsed.ctr)) {
      const c = count(who);
      c.failed++;
      c.replayed++; // a replayed frame (replay.js)
      return;
    }
    frame.data = out.buffer;
  } catch {
    const c = count(who);
    c.failed++;
    c.forged++; // did not authenticate under its sender's key
    return;
  }
  if (kind === 'video') record(timing.decrypt, performance.now() - t0);
  count(who).decrypted++;
  controller.enqueue(frame);
}

/**
 * waitNextEpoch resolves when the epoch after the newest is installed, or
 * after NEXT_EPOCH_WAIT_MS. One wait at a time: frames that arrive
 * meanwhile queue behind the one waiting, in order.
 */
function waitNextEpoch() {
  nextEpoch ??= new Promise((resolve) => {
    const timer = setTimeout(() => endNextEpochWait(), NEXT_EPOCH_WAIT_MS);
    endNextEpochWait = () => {
      clearTimeout(timer);
      nextEpoch = null;
      endNextEpochWait = () => {};
      resolve();
    };
  });
  return nextEpoch;
}

/** pipe runs one sender's or receiver's encoded frames through the transform; it settles when they stop. */
function pipe(readable, writable, { op, kind, peer, rid }) {
  const transform = new TransformStream({
    transform: op === 'encrypt'
      ? (frame, controller) => encryptFrame(frame, controller, kind)
      : (frame, controller) => decryptFrame(frame, controller, kind, peer || binds.get(rid) || ''),
  });
  return readable.pipeThrough(transform).pipeTo(writable).catch(() => { /* the sender or receiver stopped */ });
}

// RTCRtpScriptTransform.
self.addEventListener('rtctransform', (ev) => {
  const t = ev.transformer;
  const options = t.options ?? {};
  const done = pipe(t.readable, t.writable, options);
  if (options.op === 'encrypt' && options.kind === 'video') {
    videoSenders.add(t);
    done.finally(() => videoSenders.delete(t));
  }
});

self.addEventListener('message', async ({ data: m }) => {
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case 'stream':
      pipe(m.readable, m.writable, m.options ?? {});
      break;
    case 'epoch':
      if (ring.add({ epoch: m.epoch, base: m.base, groupSize: m.groupSize, members: m.members })) {
        selfLeaf.set(m.epoch, m.self);
        endNextEpochWait(); // the frames held for it look again
      }
      break;
    case 'send-epoch': {
      const k = ring.key(m.epoch, selfLeaf.get(m.epoch));
      if (k) send = { epoch: m.epoch, key: k.key, ctr: 0n };
      // Someone new: the frames they can open start now, so start them
      // on a key frame rather than wait for their decoder to ask.
      if (k && m.keyFrame) for (const t of videoSenders) t.generateKeyFrame?.().catch(() => {});
      break;
    }
    case 'retire':
      ring.retireBefore(m.before);
      for (const e of selfLeaf.keys()) if (e < m.before) selfLeaf.delete(e);
      break;
    case 'bind':
      binds.set(m.rid, m.peer);
      break;
    case 'forget':
      peers.delete(m.peer);
      break;
    case 'reset':
      ring.clear();
      selfLeaf.clear();
      send = null;
      break;
    default:
      break;
  }
});

setInterval(() => {
  self.postMessage({
    type: 'stats',
    encrypted,
    dropped,
    peers: Object.fromEntries(peers),
    timing: { encrypt: summary(timing.encrypt), decrypt: summary(timing.decrypt), frameBytes: timing.encBytes },
  });
}, STATS_MS);
