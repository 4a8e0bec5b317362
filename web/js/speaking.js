// @ts-check
// Who is talking, in every mode (mesh and SFU alike): from the audio levels
// the browser already measures. Remote participants: getStats inbound-rtp
// audio (the energy since the last poll, so a short sound between two polls
// still counts), matched to a tile by its stream's audio track. Ourselves: a
// WebAudio analyser on a copy of the microphone track, which keeps hearing
// while the microphone is muted, so we can say "you are muted" to someone
// who talks into a muted microphone. Nothing is sent anywhere.
//
// The result: data-speaking on the tiles and on #people li[data-peer-id]
// of whoever talks now (a hysteresis keeps it from flickering), and one
// active speaker for the speaker layout, which changes only after the new
// speaker has talked for a while and the old one has stopped.

import { oneAtATime, statsOf } from './stats.js';

/** How often the levels are read: often enough to follow speech, cheap with several connections. */
export const POLL_MS = 400;
/** Our own microphone is sampled this often (an analyser sees only its last few ms). */
const LOCAL_SAMPLE_MS = 50;
/** Above this level (0..1, RMS) a participant starts talking: quiet speech, above room noise. */
export const ON_LEVEL = 0.02;
/** Below this level they may stop; between the two nothing changes (hysteresis). */
export const OFF_LEVEL = 0.01;
/** They stop talking only after this long below OFF_LEVEL: pauses between words do not count. */
export const HOLD_MS = 1200;
/** The active speaker changes only to someone who has talked this long (no flicker on a cough). */
export const SWITCH_MS = 800;
/** Talking this long into a muted microphone shows the "you are muted" hint. */
export const MUTED_TALK_MS = 700;
/** The muted hint comes back at most this often: once is a help, every sentence a nag. */
export const MUTED_HINT_EVERY_MS = 30000;

/**
 * SpeakingDetector turns level samples into talking / not talking per id,
 * with hysteresis (DOM-free).
 */
export class SpeakingDetector {
  constructor() {
    /** @type {Map<string, {on: boolean, since: number, lastLoud: number}>} */
    this.state = new Map();
  }

  /**
   * update records id's level at time now (ms) and returns whether id is
   * talking. since: when the current talking spell began.
   */
  update(id, level, now) {
    const s = this.state.get(id) ?? { on: false, since: now, lastLoud: -Infinity };
    if (level >= ON_LEVEL) {
      if (!s.on) s.since = now;
      s.on = true;
      s.lastLoud = now;
    } else if (level >= OFF_LEVEL && s.on) {
      s.lastLoud = now;
    } else if (s.on && now - s.lastLoud >= HOLD_MS) {
      s.on = false;
    }
    this.state.set(id, s);
    return s.on;
  }

  speaking(id) {
    return this.state.get(id)?.on ?? false;
  }

  /** talkingFor is how long id has been talking (0 when not). */
  talkingFor(id, now) {
    const s = this.state.get(id);
    return s?.on ? now - s.since : 0;
  }

  forget(id) {
    this.state.delete(id);
  }
}

/**
 * pickActive returns the next active speaker (DOM-free): the current one
 * while they talk; otherwise whoever has talked longest, once that is at
 * least SWITCH_MS; otherwise still the current one (the stage does not go
 * blank when everyone is quiet).
 * @param {string} current
 * @param {string[]} ids candidates
 * @param {SpeakingDetector} det
 */
export function pickActive(current, ids, det, now) {
  if (current && ids.includes(current) && det.speaking(current)) return current;
  let best = '';
  let longest = SWITCH_MS - 1;
  for (const id of ids) {
    const t = det.talkingFor(id, now);
    if (t > longest) {
      best = id;
      longest = t;
    }
  }
  if (best) return best;
  return ids.includes(current) ? current : '';
}

/**
 * levelFromStats is an inbound audio stream's level since the previous
 * sample: the RMS from totalAudioEnergy / totalSamplesDuration (webrtc-stats),
 * or the instantaneous audioLevel when those are missing.
 * @param {{totalAudioEnergy?: number, totalSamplesDuration?: number, audioLevel?: number}} now
 * @param {{totalAudioEnergy?: number, totalSamplesDuration?: number}|undefined} before
 */
export function levelFromStats(now, before) {
  const de = (now.totalAudioEnergy ?? 0) - (before?.totalAudioEnergy ?? 0);
  const dt = (now.totalSamplesDuration ?? 0) - (before?.totalSamplesDuration ?? 0);
  if (before && dt > 0 && de >= 0) return Math.sqrt(de / dt);
  return now.audioLevel ?? 0;
}

/**
 * Speaking watches every tile of a Grid and our microphone.
 * It owns the data-speaking marks (tiles and people list) and the
 * active speaker it gives the Grid.
 */
export class Speaking {
  /**
   * @param {{grid: import('./ui.js').Grid, media: import('./media.js').LocalMedia,
   *          pcs: () => RTCPeerConnection[], onMutedTalk?: () => void, signal: AbortSignal}} o
   *   pcs: every peer connection media may arrive on (mesh links, the SFU link).
   */
  constructor({ grid, media, pcs, onMutedTalk = () => {}, signal }) {
    this.grid = grid;
    this.media = media;
    this.pcs = pcs;
    this.onMutedTalk = onMutedTalk;
    this.det = new SpeakingDetector();
    /** @type {Map<string, object>} inbound-rtp id → its last stats */
    this.prev = new Map();
    this.active = '';
    this.muted = new MutedTalk();
    this.local = new LocalLevel();
    const poll = setInterval(oneAtATime(() => this.poll().catch((err) => console.warn('parley: audio levels:', err.message))), POLL_MS);
    const onMedia = () => this.local.follow(media.track('mic'));
    media.addEventListener('change', onMedia, { signal });
    onMedia();
    // An AudioContext made before any click may start suspended.
    const resume = () => this.local.resume();
    document.addEventListener('pointerdown', resume, { signal });
    document.addEventListener('keydown', resume, { signal });
    signal.addEventListener('abort', () => {
      clearInterval(poll);
      this.local.close();
    });
  }

  /** levels reads the level of every inbound audio track, by track id. */
  async levels() {
    /** @type {Map<string, number>} */
    const out = new Map();
    const seen = new Map();
    await Promise.all(this.pcs().map(async (pc) => {
      let report;
      try {
        report = await statsOf(pc);
      } catch {
        return; // closed meanwhile, or lost by the browser (stats.js)
      }
      report.forEach((r) => {
        if (r.type !== 'inbound-rtp' || r.kind !== 'audio' || !r.trackIdentifier) return;
        out.set(r.trackIdentifier, Math.max(out.get(r.trackIdentifier) ?? 0, levelFromStats(r, this.prev.get(r.id))));
        seen.set(r.id, r);
      });
    }));
    this.prev = seen;
    return out;
  }

  async poll() {
    const now = performance.now();
    const byTrack = await this.levels();
    const ids = [];
    for (const t of this.grid.tiles.values()) {
      if (t.screen) continue;
      let level = 0;
      if (t.self) {
        level = this.media.micOn ? this.local.take() : 0;
      } else {
        const stream = /** @type {MediaStream|null} */ (t.video.srcObject);
        for (const a of stream?.getAudioTracks() ?? []) level = Math.max(level, byTrack.get(a.id) ?? 0);
        if (t.el.dataset.mic === 'off') level = 0;
        ids.push(t.key);
      }
      const on = this.det.update(t.key, level, now);
      t.setSpeaking(on);
      const li = /** @type {HTMLElement|null} */ (document.querySelector(`#people li[data-peer-id="${CSS.escape(t.self ? '' : t.key)}"]`));
      if (li) {
        if (on) li.dataset.speaking = '';
        else delete li.dataset.speaking;
      }
    }
    this.mutedTalk(now);
    this.active = pickActive(this.active, ids, this.det, now);
    this.grid.setSpeaker(this.active);
  }

  /** mutedTalk calls onMutedTalk when we talk into a muted microphone for a while (MutedTalk). */
  mutedTalk(now) {
    const muted = !this.media.micOn && !!this.media.track('mic');
    if (this.muted.update(muted ? this.local.take() : 0, muted, now)) this.onMutedTalk();
  }
}

/**
 * MutedTalk decides when to say "you are muted" (DOM-free): once we have
 * talked into a muted microphone for MUTED_TALK_MS, and at most once per
 * MUTED_HINT_EVERY_MS. The talking spell has the tiles' hysteresis
 * (SpeakingDetector): the pauses between words do not start the count
 * again, or someone who speaks in short bursts would never be told.
 */
export class MutedTalk {
  constructor() {
    this.det = new SpeakingDetector();
    this.lastHint = -Infinity;
  }

  /**
   * update takes our microphone's level (0..1) at time now (ms) and
   * whether it is muted; true: show the hint now.
   */
  update(level, muted, now) {
    if (!muted) {
      this.det.forget('self');
      return false;
    }
    this.det.update('self', level, now);
    if (this.det.talkingFor('self', now) < MUTED_TALK_MS || now - this.lastHint < MUTED_HINT_EVERY_MS) return false;
    this.lastHint = now;
    return true;
  }
}

/**
 * LocalLevel measures a microphone track with a WebAudio analyser, on a
 * copy of the track that stays enabled when the microphone is muted (a
 * muted track gives silence). take() returns the loudest RMS since the
 * last take, so a short sound between two polls is not missed.
 */
export class LocalLevel {
  constructor() {
    /** @type {AudioContext|null} */
    this.ctx = null;
    this.track = null;
    this.copy = null;
    this.source = null;
    this.analyser = null;
    this.buf = null;
    this.max = 0;
    this.timer = 0;
  }

  /** follow measures track (the current microphone; null: none). */
  follow(track) {
    if (track === this.track) return;
    this.stop();
    this.track = track;
    if (!track || typeof AudioContext === 'undefined') return;
    this.ctx ??= new AudioContext();
    this.copy = track.clone();
    this.copy.enabled = true;
    this.source = this.ctx.createMediaStreamSource(new MediaStream([this.copy]));
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.buf = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
    this.timer = setInterval(() => this.sample(), LOCAL_SAMPLE_MS);
  }

  sample() {
    if (!this.analyser) return;
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (const v of this.buf) sum += v * v;
    this.max = Math.max(this.max, Math.sqrt(sum / this.buf.length));
  }

  /** take returns the loudest level since the previous take and starts again. */
  take() {
    const m = this.max;
    this.max = 0;
    this.last = m;
    return m;
  }

  /** peek is the loudest level since the last take, without resetting it (the lobby's meter). */
  peek() {
    return this.max;
  }

  resume() {
    if (this.ctx?.state === 'suspended') this.ctx.resume().catch(() => {});
  }

  stop() {
    clearInterval(this.timer);
    this.source?.disconnect();
    this.copy?.stop();
    this.source = this.analyser = this.copy = this.track = null;
    this.max = 0;
  }

  close() {
    this.stop();
    this.ctx?.close().catch(() => {});
    this.ctx = null;
  }
}
