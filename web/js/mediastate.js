// @ts-check
// Whether a participant's picture and sound actually arrive, apart from
// their encryption lock (docs/e2ee.md "The lock and the media"). A lock
// says whose keys we hold; it says nothing about whether their media gets
// here. Before this module a tile could show a green, verified lock over
// "Connecting…" for ever (a mesh link Chromium refused). Now every remote
// participant has a media state of their own, decided from what arrives —
// video frames decoded, audio packets received — on whichever path (mesh
// link or SFU) their tile shows, not from a connection's ICE state:
//
//   off      nothing is expected (camera and microphone off, or a viewer)
//   flowing  an expected kind arrived within MEDIA_STALE_MS
//   waiting  nothing expected has arrived yet
//   stalled  it arrived before and stopped
//
// The tile (tiles.js setMedia) marks the lock "keys verified — no media
// yet" whenever the state is waiting or stalled, and, once the
// participant has had MEDIA_GRACE_MS to connect, shows the sentence too.
//
// mediaVerdict is the pure decision (node-tested); MediaWatch samples the
// connections' stats every MEDIA_CHECK_MS and reports changes; trackCounts
// reads the stats. DOM-free.

import { oneAtATime, statsOf } from './stats.js';

/** How often the media of every participant is sampled. */
export const MEDIA_CHECK_MS = 1000;
/**
 * No new frame or audio packet for this long: not flowing. Above a
 * sampling interval plus a getStats delay on a loaded machine (≈1 s), and
 * above Opus DTX's 400 ms between packets of silence.
 */
export const MEDIA_STALE_MS = 3000;
/**
 * A participant just seen gets this long before the sentence is shown (the
 * lock's look changes at once): a link connects and its first frame
 * decodes in 1–2 s; a note flashing on every join would be noise.
 */
export const MEDIA_GRACE_MS = 4000;

/**
 * @typedef {{state: 'off'|'flowing'|'waiting'|'stalled', text: string, note: boolean}} MediaVerdict
 *   note: whether the sentence is to be shown (the grace period is over)
 */

/**
 * mediaVerdict decides a participant's media state. last* are the times
 * (ms) their video or audio was last seen arriving (0: never), since when
 * they were first seen; link is the mesh watchdog's verdict, whose text
 * (it knows why) replaces the general one.
 * @param {{name: string, expectVideo: boolean, expectAudio: boolean,
 *          lastVideo: number, lastAudio: number, since: number, now: number,
 *          link?: {state: string, text: string}|null}} s
 * @returns {MediaVerdict}
 */
export function mediaVerdict({ name, expectVideo, expectAudio, lastVideo, lastAudio, since, now, link = null }) {
  if (!expectVideo && !expectAudio) return { state: 'off', text: '', note: false };
  const fresh = (t) => t > 0 && now - t <= MEDIA_STALE_MS;
  if ((expectVideo && fresh(lastVideo)) || (expectAudio && fresh(lastAudio))) {
    return { state: 'flowing', text: '', note: false };
  }
  const who = name || 'this participant';
  const ever = (expectVideo && lastVideo > 0) || (expectAudio && lastAudio > 0);
  let text = ever ? `No picture or sound from ${who} right now` : `No picture or sound from ${who} yet`;
  if (link?.state) text = link.text;
  return { state: ever ? 'stalled' : 'waiting', text, note: now - since >= MEDIA_GRACE_MS };
}

/**
 * @typedef {{id: string, name: string, expectVideo: boolean, expectAudio: boolean,
 *            tracks: {video: string[], audio: string[]},
 *            link?: {state: string, text: string}|null}} Watched
 *   tracks: the ids of the tracks their tiles show now
 */

/** Seen is what MediaWatch remembers of one participant. */
class Seen {
  constructor(now) {
    this.since = now;
    this.video = 0; // the last count read
    this.audio = 0;
    this.lastVideo = 0; // when the count last rose
    this.lastAudio = 0;
    /** @type {MediaVerdict|null} */
    this.verdict = null;
  }
}

/**
 * MediaWatch follows every remote participant's media state: tick() reads
 * the counts per track (sample), compares them with the last tick and
 * calls onVerdict(id, verdict) for each participant whose verdict changed.
 * The owner calls start() once in a call and stop() at its end.
 */
export class MediaWatch {
  /**
   * @param {{participants: () => Watched[],
   *          sample: () => Promise<Map<string, number>>,
   *          onVerdict: (id: string, v: MediaVerdict) => void,
   *          now?: () => number}} o
   *   sample: frames decoded (video) or packets received (audio) per track id
   */
  constructor({ participants, sample, onVerdict, now = () => Date.now() }) {
    this.participants = participants;
    this.sample = sample;
    this.onVerdict = onVerdict;
    this.now = now;
    /** @type {Map<string, Seen>} */
    this.seen = new Map();
    this.timer = 0;
    /** tick samples once (skipped while the last sample is still running). */
    this.tick = oneAtATime(async () => this.update(await this.sample()));
  }

  start() {
    this.stop();
    this.timer = setInterval(() => this.tick(), MEDIA_CHECK_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  /** update applies one sample: counts per track id. */
  update(counts) {
    const now = this.now();
    const list = this.participants();
    const ids = new Set(list.map((p) => p.id));
    for (const id of this.seen.keys()) if (!ids.has(id)) this.seen.delete(id);
    for (const p of list) {
      let s = this.seen.get(p.id);
      if (!s) {
        s = new Seen(now);
        this.seen.set(p.id, s);
      }
      const sum = (tracks) => tracks.reduce((n, t) => n + (counts.get(t) ?? 0), 0);
      const video = sum(p.tracks.video);
      const audio = sum(p.tracks.audio);
      // A new path or connection starts its counts again: a lower count is
      // a new base, not an arrival.
      if (video > s.video) s.lastVideo = now;
      if (audio > s.audio) s.lastAudio = now;
      s.video = video;
      s.audio = audio;
      const v = mediaVerdict({ name: p.name, expectVideo: p.expectVideo, expectAudio: p.expectAudio,
        lastVideo: s.lastVideo, lastAudio: s.lastAudio, since: s.since, now, link: p.link });
      const old = s.verdict;
      if (old && old.state === v.state && old.text === v.text && old.note === v.note) continue;
      s.verdict = v;
      this.onVerdict(p.id, v);
    }
  }
}

/**
 * trackCounts reads each connection's stats: per receiving track id, the
 * video frames decoded or the audio packets received. A frame that does
 * not decrypt never reaches the decoder, so it does not count.
 * inbound-rtp names its track by trackIdentifier; where a browser leaves
 * that out, its mid leads to the transceiver. A wanted track that neither
 * finds is read from its own receiver (RTCRtpReceiver.getStats), one call
 * per such track.
 * @param {RTCPeerConnection[]} pcs
 * @param {Set<string>} wanted the track ids the tiles show
 * @param {string[]|null} [problems] collects what could not be read (tests dump it)
 * @returns {Promise<Map<string, number>>}
 */
export async function trackCounts(pcs, wanted, problems = null) {
  /** @type {Map<string, number>} */
  const out = new Map();
  const add = (id, r) => {
    const n = r.kind === 'video' ? (r.framesDecoded ?? 0) : (r.packetsReceived ?? 0);
    out.set(id, (out.get(id) ?? 0) + n);
  };
  for (const pc of pcs) {
    if (pc.connectionState === 'closed') continue;
    let stats;
    try {
      stats = await statsOf(pc);
    } catch (err) {
      problems?.push(`getStats: ${err}`);
      continue; // closed meanwhile, or lost by the browser (stats.js)
    }
    const byMid = new Map(pc.getTransceivers().map((t) => [t.mid, t.receiver.track.id]));
    stats.forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      const id = r.trackIdentifier || byMid.get(r.mid);
      if (id) add(id, r);
      else problems?.push(`inbound-rtp ${r.kind} ${r.id}: no track (mid ${r.mid})`);
    });
    for (const rx of pc.getReceivers()) {
      const id = rx.track?.id;
      if (!id || !wanted.has(id) || out.has(id)) continue;
      try {
        (await statsOf(rx)).forEach((r) => {
          if (r.type === 'inbound-rtp') add(id, r);
        });
      } catch (err) {
        problems?.push(`receiver ${id}: ${err}`);
      }
    }
  }
  return out;
}
