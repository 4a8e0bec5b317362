// The E2EE worker (docs/e2ee.md): encrypts every encoded frame we send and
// decrypts every frame we receive, with SFrame (sframe.js) and the keys the
// controller (e2ee.js) posts. One code path for both browser APIs: the
// streams of an RTCRtpScriptTransform (`rtctransform` event) and those
// posted from the main thread after createEncodedStreams go through the
// same pipe().
//
// It owns: our current sending key and its frame counter (shared by every
// sender, so each (KID, CTR) is used once), the receivers' KeyRing, and
// the counters it reports to the controller every STATS_MS:
//   {type: 'stats', encrypted, dropped, peers: {id: {decrypted, failed}}, timing}
// A frame that does not decrypt is dropped, never passed on (passed on,
// Opus plays ciphertext as loud noise); so is a frame whose (KID, CTR) was
// already accepted (a replay, replay.js).
//
// Messages from the controller:
//   {type: 'send-key', kid, raw}   encrypt with this key from now on
//   {type: 'add-key', peer, kid, raw}, {type: 'tag', peer, tag}, {type: 'forget', peer}
//   {type: 'stream', readable, writable, options: {op, kind, peer}}

import { SFrameKey, protectFrame, unprotectFrame, parseFrame, clearBytes } from './sframe.js';
import { KeyRing } from './keys.js';

/** How often counters go to the controller. */
const STATS_MS = 1000;
/** Per-frame timings kept for the median / p99 (the last this many video frames). */
const TIMING_WINDOW = 600;

/** @type {{kid: number, key: SFrameKey, ctr: bigint}|null} our sending key */
let send = null;
let sendKeys = Promise.resolve(); // the send-key changes, one after another
const ring = new KeyRing();
let encrypted = 0;
let dropped = 0; // frames we could not encrypt (no key yet) or that failed to
/** @type {Map<string, {decrypted: number, failed: number}>} */
const peers = new Map();
const timing = { encrypt: [], decrypt: [], encBytes: 0 };

function count(peer) {
  let c = peers.get(peer);
  if (!c) {
    c = { decrypted: 0, failed: 0 };
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
  const out = await protectFrame(s.key, ctr, data, clearBytes(kind, data));
  if (kind === 'video') {
    record(timing.encrypt, performance.now() - t0);
    timing.encBytes = data.length;
  }
  frame.data = out.buffer;
  encrypted++;
  controller.enqueue(frame);
}

async function decryptFrame(frame, controller, kind, peer) {
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
    count(peer || 'unknown').failed++;
    return;
  }
  const who = peer || ring.peerOf(parsed.kid) || 'unknown';
  const entry = await ring.lookup(parsed.kid);
  if (!entry || (peer && entry.peer !== peer)) {
    count(who).failed++;
    return;
  }
  try {
    const out = await unprotectFrame(await entry.key, data, clearBytes(kind, data), parsed);
    ring.confirm(entry);
    if (!ring.fresh(entry, parsed.ctr)) {
      count(who).failed++; // a replayed frame (replay.js)
      return;
    }
    frame.data = out.buffer;
  } catch {
    count(who).failed++;
    return;
  }
  if (kind === 'video') record(timing.decrypt, performance.now() - t0);
  count(who).decrypted++;
  controller.enqueue(frame);
}

/** pipe runs one sender's or receiver's encoded frames through the transform. */
function pipe(readable, writable, { op, kind, peer }) {
  const transform = new TransformStream({
    transform: op === 'encrypt'
      ? (frame, controller) => encryptFrame(frame, controller, kind)
      : (frame, controller) => decryptFrame(frame, controller, kind, peer || ''),
  });
  readable.pipeThrough(transform).pipeTo(writable).catch(() => { /* the sender or receiver stopped */ });
}

// RTCRtpScriptTransform.
self.addEventListener('rtctransform', (ev) => {
  const t = ev.transformer;
  pipe(t.readable, t.writable, t.options ?? {});
});

self.addEventListener('message', async ({ data: m }) => {
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case 'stream':
      pipe(m.readable, m.writable, m.options ?? {});
      break;
    case 'send-key': {
      // In order: two changes close together (two joins) must not end on
      // the older key because its derivation finished last.
      const { kid, raw } = m;
      sendKeys = sendKeys.then(async () => {
        send = { kid, key: await SFrameKey.derive(raw, kid), ctr: 0n };
      }).catch((err) => console.warn('parley: e2ee worker: a sending key failed:', err));
      break;
    }
    case 'add-key':
      ring.add(m.peer, m.kid, m.raw);
      break;
    case 'tag':
      ring.setTag(m.peer, m.tag);
      break;
    case 'forget':
      ring.forget(m.peer);
      peers.delete(m.peer);
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
