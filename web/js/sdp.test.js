import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sanitizeSdp, sanitizeDescription, strayLines, dtlsRole, keepDtlsRole } from './sdp.js';

// Real descriptions recorded from Firefox ESR 153 and Chromium 156
// (headless, December 2026): offers with three m=audio/video/video
// sections and a data channel, and answers to the other browser's offer,
// each with and without setCodecPreferences(VP8, RTX) / (Opus).
const fixture = (name) => readFileSync(new URL(`../testdata/sdp/${name}.sdp`, import.meta.url), 'utf8');

const BROKEN = ['firefox-offer-prefs', 'firefox-answer-prefs'];
const CLEAN = [
  'firefox-offer-plain', 'firefox-answer-plain', 'firefox-answer-prefs-to-prefs',
  'chromium-offer-plain', 'chromium-offer-prefs', 'chromium-answer-plain', 'chromium-answer-prefs',
];

/** mLines returns each m= line with the attribute lines of its section. */
function sections(sdp) {
  return sdp.split('\r\n').reduce((acc, line) => {
    if (line.startsWith('m=')) acc.push([line]);
    else if (acc.length) acc.at(-1).push(line);
    return acc;
  }, []);
}

test('Firefox with codec preferences writes rtcp-fb lines for payload types not on the m-line', () => {
  const stray = strayLines(fixture('firefox-offer-prefs'));
  assert.ok(stray.length > 0);
  assert.ok(stray.every((s) => s.text.startsWith('a=rtcp-fb:')), 'only rtcp-fb lines are stray in this recording');
  assert.ok(stray.some((s) => s.text.startsWith('a=rtcp-fb:121 ')));
  assert.ok(strayLines(fixture('firefox-answer-prefs')).some((s) => s.text.startsWith('a=rtcp-fb:45 ')));
});

for (const name of BROKEN) {
  test(`${name}: sanitized, nothing stray is left and nothing else changes`, () => {
    const sdp = fixture(name);
    const out = sanitizeSdp(sdp);
    assert.deepEqual(strayLines(out), []);
    assert.ok(out.includes('\r\n') && !/[^\r]\n/.test(out), 'CRLF line ends kept');
    // Exactly the stray lines are gone, in order.
    const strays = new Set(strayLines(sdp).map((s) => s.line));
    const expect = sdp.split('\r\n').filter((_, i) => !strays.has(i)).join('\r\n');
    assert.equal(out, expect);
    // Every section keeps its m= line, its codecs and its other attributes.
    const before = sections(sdp);
    const after = sections(out);
    assert.equal(after.length, before.length);
    after.forEach((sec, i) => {
      assert.equal(sec[0], before[i][0]);
      const listed = new Set(sec[0].split(' ').slice(3));
      for (const l of before[i]) {
        const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\S+)/.exec(l)?.[1];
        if (!pt || listed.has(pt) || !/RTP/.test(sec[0])) assert.ok(sec.includes(l), `${l} kept`);
      }
    });
    assert.equal(sanitizeSdp(out), out, 'idempotent');
  });
}

for (const name of CLEAN) {
  test(`${name}: valid SDP comes back as it was`, () => {
    const sdp = fixture(name);
    assert.deepEqual(strayLines(sdp), []);
    assert.equal(sanitizeSdp(sdp), sdp);
  });
}

test('rtpmap and fmtp lines of payload types not on the m-line go too; the rtcp-fb wildcard stays', () => {
  const sdp = [
    'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
    'a=rtpmap:96 VP8/90000', 'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
    'a=rtpmap:98 VP9/90000', 'a=fmtp:98 profile-id=0', 'a=rtcp-fb:98 nack', 'a=rtcp-fb:* ccm fir',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=sctp-port:5000', '',
  ].join('\r\n');
  const out = sanitizeSdp(sdp);
  assert.ok(!out.includes(':98 '));
  assert.ok(out.includes('a=rtcp-fb:* ccm fir'));
  assert.ok(out.includes('a=fmtp:97 apt=96'));
  assert.ok(out.endsWith('a=sctp-port:5000\r\n'));
});

test('an RTX format whose apt is not on its m-line leaves the m-line, unless it is the only one', () => {
  const sdp = [
    'v=0', 'm=video 9 UDP/TLS/RTP/SAVPF 96 97 99', 'a=rtpmap:96 VP8/90000',
    'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96', 'a=rtpmap:99 rtx/90000', 'a=fmtp:99 apt=98', 'a=rtcp-fb:99 nack',
    'm=video 9 UDP/TLS/RTP/SAVPF 101', 'a=rtpmap:101 rtx/90000', 'a=fmtp:101 apt=100', '',
  ].join('\r\n');
  const out = sanitizeSdp(sdp).split('\r\n');
  assert.ok(out.includes('m=video 9 UDP/TLS/RTP/SAVPF 96 97'));
  assert.ok(!out.some((l) => /:99 /.test(l)));
  assert.ok(out.includes('m=video 9 UDP/TLS/RTP/SAVPF 101'), 'an m-line never loses its last format');
  assert.ok(out.includes('a=fmtp:101 apt=100'));
});

test('LF-only SDP keeps LF; bad input comes back untouched', () => {
  const sdp = 'v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\na=rtcp-fb:112 transport-cc\n';
  assert.equal(sanitizeSdp(sdp), 'v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\n');
  assert.equal(sanitizeSdp(''), '');
  assert.equal(sanitizeSdp(undefined), undefined);
  assert.equal(sanitizeSdp('not sdp at all'), 'not sdp at all');
});

test('sanitizeDescription keeps the type and repairs the sdp', () => {
  const d = sanitizeDescription({ type: 'offer', sdp: fixture('firefox-offer-prefs') });
  assert.equal(d.type, 'offer');
  assert.deepEqual(strayLines(d.sdp), []);
  assert.deepEqual(sanitizeDescription({ type: 'rollback' }), { type: 'rollback' });
});

test('dtlsRole: from our answer, else the opposite of theirs, else none', () => {
  const sdp = (setup) => `v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:${setup}\r\n`;
  assert.equal(dtlsRole(sdp('active'), sdp('actpass')), 'active');
  assert.equal(dtlsRole(sdp('passive'), sdp('actpass')), 'passive');
  assert.equal(dtlsRole(sdp('actpass'), sdp('active')), 'passive');
  assert.equal(dtlsRole(sdp('actpass'), sdp('passive')), 'active');
  assert.equal(dtlsRole(null, null), '');
  assert.equal(dtlsRole(sdp('actpass'), null), '');
});

test('keepDtlsRole states the role in an offer, and only there', () => {
  const offer = fixture('chromium-offer-prefs');
  assert.match(offer, /a=setup:actpass/);
  const kept = keepDtlsRole({ type: 'offer', sdp: offer }, 'active');
  assert.doesNotMatch(kept.sdp, /a=setup:actpass/);
  assert.equal(kept.sdp.split('a=setup:active').length, offer.split('a=setup:actpass').length);
  assert.equal(kept.sdp.replaceAll('a=setup:active', 'a=setup:actpass'), offer, 'nothing else changes');
  const answer = { type: 'answer', sdp: fixture('firefox-answer-prefs') };
  assert.equal(keepDtlsRole(answer, 'passive'), answer);
  const first = { type: 'offer', sdp: offer };
  assert.equal(keepDtlsRole(first, ''), first, 'no role yet: sent as it is');
});
