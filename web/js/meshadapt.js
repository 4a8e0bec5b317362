// @ts-check
// Mesh adaptation (docs/protocol.md "Mesh adaptation"): on each
// mesh link our camera is sent as one encoding sized to the tile the other
// side shows it in, so a six-person mesh does not upload five full-size
// copies to people who show small tiles, and nothing at all to someone who
// cannot see us (another page of the grid, scrolled away, a hidden tab).
//
// Receiver: a Viewport (viewport.js) watches the <video> elements that show
// the link's remote camera track and sends its rendered size and visibility
// on the link's `parley/view` data channel (pre-negotiated, id 13, made
// with the link's other channels). A direct link's data channel is
// encrypted end to end by DTLS between the two browsers (through TURN
// too: the relay forwards ciphertext), so the server learns nothing.
// Sender: applies encodingFor() to its camera sender on that link only
// (RTCRtpSender.setParameters: scaleResolutionDownBy, maxBitrate, active).
// A link whose other side never reports sends full size, as before.
//
// DOM-free parts (encodingFor, parseReport) are exported for node tests.

import { Viewport } from './viewport.js';

/** The link's data channel for size reports (pre-negotiated; ids 10–12 are channels.js's). */
export const VIEW_CHANNEL = Object.freeze({ label: 'parley/view', id: 13 });

/**
 * The camera's bitrate at full size (as the SFU mode's top simulcast
 * layer, sfu.js SIMULCAST): a 720p VP8 camera at 30 fps.
 */
export const FULL_BITRATE = 1_500_000;
/** Below this a VP8 picture of any size turns to mush; the bitrate never goes lower. */
export const MIN_BITRATE = 100_000;
/** The most we scale down: 1/8 of 720p is 160×90, smaller than any tile (MIN_TILE_W 144). */
export const MAX_SCALE = 8;
/**
 * A picture fills a tile when it is at least 1/FILL_SLACK of the tile's
 * size in both directions: scaling up by 25 % is barely visible (the SFU's
 * layer choice uses the same slack, sfu/view.go fillSlack).
 */
export const FILL_SLACK = 1.25;
/** Reports larger than this (device px) are clamped: no display is wider. */
const MAX_PIXELS = 16384;

/**
 * @typedef {{width: number, height: number, visible: boolean}} TileReport  device pixels
 * @typedef {{active: boolean, scaleResolutionDownBy: number, maxBitrate: number}} Encoding
 */

/**
 * encodingFor is the encoding to send for a tile of the given size, from a
 * camera of the given size: the largest power-of-two downscale whose
 * picture still fills the tile (powers of two: few reconfigurations as a
 * window is resized, and the encoder's scalers are exact), a bitrate in
 * proportion to the pixels sent, and nothing for a tile nobody sees.
 * @param {TileReport|null} tile  null: no report yet (send full size)
 * @param {{width?: number, height?: number}} source  the camera's size
 * @returns {Encoding}
 */
export function encodingFor(tile, source, full = FULL_BITRATE) {
  if (!tile) return { active: true, scaleResolutionDownBy: 1, maxBitrate: full };
  if (!tile.visible || !(tile.width > 0) || !(tile.height > 0)) {
    return { active: false, scaleResolutionDownBy: 1, maxBitrate: full };
  }
  const sw = source.width > 0 ? source.width : 1280;
  const sh = source.height > 0 ? source.height : 720;
  const room = Math.min((FILL_SLACK * sw) / tile.width, (FILL_SLACK * sh) / tile.height);
  let scale = 1;
  while (scale * 2 <= Math.min(room, MAX_SCALE)) scale *= 2;
  const maxBitrate = Math.max(MIN_BITRATE, Math.round(full / (scale * scale)));
  return { active: true, scaleResolutionDownBy: scale, maxBitrate };
}

/**
 * parseReport reads a size report from the data channel: JSON
 * {"w": int, "h": int, "v": bool} (device pixels, visible). null if
 * malformed: a bad report changes nothing.
 * @param {unknown} data
 * @returns {TileReport|null}
 */
export function parseReport(data) {
  if (typeof data !== 'string' || data.length > 256) return null;
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    return null;
  }
  if (!m || typeof m !== 'object' || typeof m.v !== 'boolean') return null;
  const size = (n) => (Number.isInteger(n) && n >= 0 ? Math.min(n, MAX_PIXELS) : -1);
  const width = size(m.w);
  const height = size(m.h);
  if (width < 0 || height < 0) return null;
  return { width, height, visible: m.v };
}

/** sameEncoding reports whether an encoding already has what e says. */
function sameEncoding(enc, e) {
  return (enc.active ?? true) === e.active && (enc.scaleResolutionDownBy ?? 1) === e.scaleResolutionDownBy &&
    enc.maxBitrate === e.maxBitrate;
}

/**
 * LinkAdapt is the adaptation of one mesh link, both directions.
 */
export class LinkAdapt {
  /**
   * @param {{channel: RTCDataChannel,
   *          sender: () => RTCRtpSender|null}} opts
   *   channel: the link's VIEW_CHANNEL. sender: our camera's sender on the link.
   */
  constructor({ channel, sender }) {
    this.channel = channel;
    this.sender = sender;
    /** @type {TileReport|null} what the other side last reported */
    this.want = null;
    /** @type {Encoding|null} what we last applied */
    this.applied = null;
    /** @type {MediaStreamTrack|null} the remote camera track we report on */
    this.track = null;
    /** the remote camera was reported visible once: only then do we ask for it to stop */
    this.seen = false;
    /** @type {object|null} the last report sent */
    this.last = null;
    this.busy = Promise.resolve();
    this.closed = false;
    channel.addEventListener('message', (ev) => {
      const r = parseReport(ev.data);
      if (!r) return;
      this.want = r;
      this.apply();
    });
    channel.addEventListener('open', () => this.resend());
    /** @type {Viewport|null} */
    this.viewport = typeof ResizeObserver === 'function' ? new Viewport({ send: (items) => this.report(items) }) : null;
  }

  /** setTrack says which received track is the other side's camera (null: none). */
  setTrack(track) {
    if (this.track === track) return;
    this.track = track;
    this.seen = false;
    this.viewport?.setTracks(track ? [track.id] : []);
  }

  /**
   * report sends what we show of the remote camera. A tile not yet shown
   * (a stream being prepared) is not reported hidden: pausing it would
   * keep it from ever showing a first frame.
   * @param {import('./viewport.js').ViewItem[]} items
   */
  report(items) {
    const it = items[0];
    if (!it || (!it.visible && !this.seen)) return;
    this.seen ||= it.visible;
    this.last = { w: it.width, h: it.height, v: it.visible };
    this.resend();
  }

  resend() {
    if (!this.last || this.channel.readyState !== 'open') return;
    try {
      this.channel.send(JSON.stringify(this.last));
    } catch (err) {
      console.warn('parley: mesh view report not sent:', err);
    }
  }

  /** apply sets our camera sender's encoding for the other side's tile (serialized). */
  apply() {
    this.busy = this.busy.then(() => this.applyNow()).catch((err) => {
      if (!this.closed) console.warn('parley: mesh adaptation:', err);
    });
    return this.busy;
  }

  async applyNow() {
    const sender = this.sender();
    if (this.closed || !sender || !sender.track) return;
    const params = sender.getParameters();
    const enc = params.encodings?.[0];
    if (!enc) return;
    const e = encodingFor(this.want, sender.track.getSettings());
    if (sameEncoding(enc, e)) return;
    Object.assign(enc, e);
    await sender.setParameters(params);
    this.applied = e;
  }

  close() {
    this.closed = true;
    this.viewport?.close();
    this.viewport = null;
  }
}
