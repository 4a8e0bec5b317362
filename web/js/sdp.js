// @ts-check
// SDP repair, so that what one browser writes the other accepts.
//
// The cause (seen with Firefox ESR 153 and Chromium 156, December 2026):
// after RTCRtpTransceiver.setCodecPreferences(VP8, RTX) — which E2EE does
// on every transceiver (e2ee.js preferCodecs) — Firefox lists only the kept
// payload types on the m=video line (e.g. `120 124`) but still writes the
// `a=rtcp-fb` lines of every codec it dropped (121, 122, 123, 99 in its
// offers; in an answer to Chromium's offer the rtcp-fb lines of 45 and 98
// and the a=fmtp line of 45). RFC 4566 §6 and
// RFC 4585 §4.2 tie those attributes to a format of their media section;
// Chromium is strict about it and refuses the whole description:
// "setRemoteDescription: Failed to parse SessionDescription. Failed to
// parse codecs correctly". So every mesh link where Firefox offered (or
// answered with preferences of its own) failed. Chromium's own SDP never
// has such lines, and Firefox accepts Chromium's.
//
// The choice: repair the text at one place, right before a description is
// sent (and, defensively, when one arrives), by dropping `a=rtpmap`,
// `a=fmtp` and `a=rtcp-fb` lines whose payload type is not on their m=
// line, and RTX formats whose `apt` names a payload type that is not there
// either. Nothing that either browser negotiates is lost: the lines name
// codecs that are not offered. Not calling setCodecPreferences in Firefox
// would avoid the bug too, but E2EE needs VP8 and Opus (frames of other
// codecs would not survive the transform's clear-header rule), and
// munging only what the spec says is meaningless keeps the standard API in
// use. Other SDP is returned unchanged, byte for byte.

/** Attributes bound to one payload type of their m= line (RFC 4566 §6, RFC 4585 §4.2). */
const PER_FORMAT = /^a=(rtpmap|fmtp|rtcp-fb):(\S+)/;

/**
 * @typedef {{line: number, text: string}} Stray
 *   a line (0-based index in the SDP) naming a payload type its m= line does not list
 */

/**
 * splitLines splits SDP text into lines and tells which line ending it
 * used (RFC 4566 says CRLF; be lenient with LF).
 * @param {string} sdp
 * @returns {{lines: string[], eol: string}}
 */
function splitLines(sdp) {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return { lines: sdp.split(eol), eol };
}

/**
 * formatsOf returns the payload types an RTP m= line lists, or null for a
 * section that is not RTP (m=application …), whose attributes are left alone.
 * @param {string} mline
 * @returns {Set<string>|null}
 */
function formatsOf(mline) {
  const parts = mline.slice(2).trim().split(/\s+/);
  if (parts.length < 3 || !/RTP/.test(parts[2])) return null;
  return new Set(parts.slice(3));
}

/**
 * strayLines lists the per-format attribute lines whose payload type is not
 * on their m= line (the lines Chromium refuses). Session-level lines and
 * the `*` wildcard of rtcp-fb (RFC 4585 §4.2) are never stray.
 * @param {string} sdp
 * @returns {Stray[]}
 */
export function strayLines(sdp) {
  const { lines } = splitLines(sdp);
  /** @type {Stray[]} */
  const out = [];
  /** @type {Set<string>|null} */
  let formats = null;
  lines.forEach((text, line) => {
    if (text.startsWith('m=')) {
      formats = formatsOf(text);
      return;
    }
    const m = PER_FORMAT.exec(text);
    if (!m || !formats || m[2] === '*') return;
    if (!formats.has(m[2])) out.push({ line, text });
  });
  return out;
}

/**
 * orphanRtx returns, per m= line index, the RTX payload types whose `apt`
 * (RFC 4588 §8.6) names a payload type not on that m= line.
 * @param {string[]} lines
 * @returns {Map<number, Set<string>>}
 */
function orphanRtx(lines) {
  /** @type {Map<number, Set<string>>} */
  const out = new Map();
  let mIndex = -1;
  /** @type {Set<string>|null} */
  let formats = null;
  for (const text of lines) {
    if (text.startsWith('m=')) {
      mIndex++;
      formats = formatsOf(text);
      continue;
    }
    const m = /^a=fmtp:(\S+) .*\bapt=(\d+)/.exec(text);
    if (!m || !formats || !formats.has(m[1]) || formats.has(m[2])) continue;
    if (!out.has(mIndex)) out.set(mIndex, new Set());
    out.get(mIndex).add(m[1]);
  }
  return out;
}

/**
 * sanitizeSdp makes SDP from one browser acceptable to the other: it drops
 * RTX formats whose apt is missing from their m= line, then every
 * rtpmap/fmtp/rtcp-fb line whose payload type is not on its m= line. SDP
 * with nothing to drop is returned as it was (the same string).
 * @param {string} sdp
 * @returns {string}
 */
export function sanitizeSdp(sdp) {
  if (typeof sdp !== 'string' || !sdp) return sdp;
  const { lines, eol } = splitLines(sdp);
  const orphans = orphanRtx(lines);
  let changed = false;
  let mIndex = -1;
  const kept = [];
  for (const text of lines) {
    if (text.startsWith('m=')) {
      mIndex++;
      const drop = orphans.get(mIndex);
      if (drop) {
        const parts = text.split(' ');
        const fmts = parts.slice(3).filter((f) => !drop.has(f));
        // Never leave an m= line without a format: it would not parse at all.
        if (fmts.length) {
          kept.push([...parts.slice(0, 3), ...fmts].join(' '));
          changed = true;
          continue;
        }
      }
      kept.push(text);
      continue;
    }
    kept.push(text);
  }
  const stray = new Set(strayLines(kept.join(eol)).map((s) => s.line));
  if (!stray.size && !changed) return sdp;
  return kept.filter((_, i) => !stray.has(i)).join(eol);
}

/**
 * sanitizeDescription returns a plain description ({type, sdp}) with
 * sanitizeSdp applied: what is sent to, or applied from, the other side.
 * @param {RTCSessionDescriptionInit|RTCSessionDescription} desc
 * @returns {RTCSessionDescriptionInit}
 */
export function sanitizeDescription(desc) {
  const { type, sdp } = desc;
  return sdp === undefined ? { type } : { type, sdp: sanitizeSdp(sdp) };
}

// Keeping the DTLS role across an ICE restart.
//
// The cause (seen with Firefox ESR 153 and Chromium 156, December 2026, in
// TestBrowserMeshLinkHeals): a mesh link whose ICE never connected, where
// Chromium answered the first offer (a=setup:active: Chromium is the DTLS
// client, Firefox the server). The link watchdog's ICE restart makes
// Chromium offer again, with a=setup:actpass as JSEP §5.2.2 says; Firefox,
// whose DTLS association never started, answers a=setup:active as for a
// new association. Chromium refuses the role change ("Failed to set SSL
// role for the transport") and from then on every description of that link
// fails both ways: the link can never heal, not even through TURN.
//
// The choice: an offer on a link whose role is already negotiated, but
// whose DTLS association never started (mesh.js: a link that never
// connected), states that role (a=setup:active or passive instead of actpass), which RFC 4145
// §4 allows an offerer and which leaves the answerer one valid answer, the
// opposite role. Only the text sent changes: the local description keeps
// actpass (Chromium refuses to apply an offer with anything else), and the
// answer then matches the role the browser already holds. A first offer
// (no role yet) is sent as it is.

/**
 * setupOf returns the first a=setup value of sdp ('' if none).
 * @param {string|undefined|null} sdp
 */
function setupOf(sdp) {
  const m = /(?:^|\n)a=setup:(\w+)/.exec(sdp ?? '');
  return m ? m[1] : '';
}

/**
 * dtlsRole returns the DTLS role a connection negotiated in its last
 * completed exchange: 'active' (client) or 'passive' (server), from our
 * answer's a=setup or else the opposite of theirs; '' before any.
 * @param {string|undefined|null} localSdp  the current local description
 * @param {string|undefined|null} remoteSdp the current remote description
 * @returns {''|'active'|'passive'}
 */
export function dtlsRole(localSdp, remoteSdp) {
  const local = setupOf(localSdp);
  if (local === 'active' || local === 'passive') return local;
  const remote = setupOf(remoteSdp);
  if (remote === 'active') return 'passive';
  if (remote === 'passive') return 'active';
  return '';
}

/**
 * keepDtlsRole returns an offer whose a=setup:actpass lines state role
 * instead; answers, and offers when role is '', are returned unchanged.
 * @param {RTCSessionDescriptionInit} desc
 * @param {''|'active'|'passive'} role
 * @returns {RTCSessionDescriptionInit}
 */
export function keepDtlsRole(desc, role) {
  if (desc.type !== 'offer' || !role || typeof desc.sdp !== 'string') return desc;
  return { type: desc.type, sdp: desc.sdp.replace(/(^|\n)a=setup:actpass(?=\r?\n|$)/g, `$1a=setup:${role}`) };
}
