// RFC 9605 test vectors (Appendix C.1 headers, C.3 for cipher suite
// 0x0004 AES_128_GCM_SHA256_128) and the frame layout's properties.
// Vectors copied from the RFC's Appendix C (as published by the SFrame
// working group, sframe-wg/sframe, draft-ietf-sframe-enc auth48 text).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeHeader, decodeHeader, labels, deriveKeySaltRaw, SFrameKey, makeNonce,
  sframeEncrypt, sframeDecrypt, protectFrame, unprotectFrame, parseFrame, clearBytes, SFrameError,
} from './sframe.js';

const hex = (s) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

// RFC 9605 Appendix C.3, cipher_suite 0x0004.
const V = {
  kid: 0x123n,
  ctr: 0x4567n,
  baseKey: hex('000102030405060708090a0b0c0d0e0f'),
  keyLabel: hex('534672616d6520312e30205365637265 74206b65792000000000000001230004'),
  saltLabel: hex('534672616d6520312e30205365637265 742073616c7420000000000000012300 04'),
  sframeKey: 'd34f547f4ca4f9a7447006fe7fcbf768',
  sframeSalt: '75234edefe07819026751816',
  metadata: hex('4945544620534672616d65205747'),
  nonce: '75234edefe07819026755d71',
  pt: hex('64726166742d696574662d736672616d 652d656e63'),
  ct: '9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb',
};

// RFC 9605 Appendix C.1 (a selection covering every header form).
const HEADERS = [
  [0n, 0n, '00'],
  [0n, 1n, '01'],
  [0n, 0xffn, '08ff'],
  [0n, 0x100n, '090100'],
  [0n, 0xffffffffffffffffn, '0fffffffffffffffff'],
  [1n, 0x00ffffffffffffffn, '1effffffffffffff'],
  [0xffn, 0xffn, '88ffff'],
  [0x100n, 0x100n, '9901000100'],
  [0xffffffn, 0x10000n, 'aaffffff010000'],
  [0x100000000n, 0x1000000n, 'cb010000000001000000'],
  [0x0000010000000000n, 0x1n, 'd1010000000000'],
  [0x0000ffffffffffffn, 0x100n, 'd9ffffffffffff0100'],
  [0x0001000000000000n, 0n, 'e001000000000000'],
  [0x0100000000000000n, 0xffn, 'f80100000000000000ff'],
  [0xffffffffffffffffn, 0x0100000000000000n, 'ffffffffffffffffff0100000000000000'],
  [0xffffffffffffffffn, 0xffffffffffffffffn, 'ffffffffffffffffffffffffffffffffff'],
];

test('RFC 9605 C.1 header encoding and decoding', () => {
  for (const [kid, ctr, want] of HEADERS) {
    assert.equal(toHex(encodeHeader(kid, ctr)), want, `encode kid=${kid} ctr=${ctr}`);
    const d = decodeHeader(hex(want));
    assert.deepEqual([d.kid, d.ctr, d.length], [kid, ctr, want.length / 2], `decode ${want}`);
  }
  assert.throws(() => decodeHeader(hex('99012345')), SFrameError);
});

test('RFC 9605 C.3 labels, sframe_key, sframe_salt and nonce (0x0004)', async () => {
  const l = labels(V.kid);
  assert.equal(toHex(l.key), toHex(V.keyLabel));
  assert.equal(toHex(l.salt), toHex(V.saltLabel));
  const { key, salt } = await deriveKeySaltRaw(V.baseKey, V.kid);
  assert.equal(toHex(key), V.sframeKey);
  assert.equal(toHex(salt), V.sframeSalt);
  assert.equal(toHex(makeNonce(salt, V.ctr)), V.nonce);
});

test('RFC 9605 C.3 encrypt and decrypt (0x0004)', async () => {
  const key = await SFrameKey.derive(V.baseKey, V.kid);
  const ct = await sframeEncrypt(key, V.ctr, V.metadata, V.pt);
  assert.equal(toHex(ct), V.ct);
  const pt = await sframeDecrypt(key, V.metadata, hex(V.ct));
  assert.equal(toHex(pt), toHex(V.pt));
  // The metadata is authenticated.
  const badMeta = V.metadata.slice();
  badMeta[0] ^= 1;
  await assert.rejects(sframeDecrypt(key, badMeta, hex(V.ct)), SFrameError);
});

const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

test('frame layout: clear bytes first, header and its length last, round trip', async () => {
  const key = await SFrameKey.derive(randomBytes(16), 0x1234567n);
  const frame = randomBytes(500);
  frame[0] &= 0xfe; // a VP8 key frame
  const clear = clearBytes('video', frame);
  assert.equal(clear, 10);
  const out = await protectFrame(key, 42n, frame, clear);
  const header = encodeHeader(0x1234567n, 42n);
  assert.equal(out.length, frame.length + 16 + header.length + 1);
  assert.deepEqual(out.subarray(0, 10), frame.subarray(0, 10));
  assert.deepEqual(out.subarray(out.length - 1 - header.length, out.length - 1), header);
  assert.equal(out[out.length - 1], header.length);
  assert.notDeepEqual(out.subarray(10, 500), frame.subarray(10));
  const p = parseFrame(out);
  assert.equal(p.kid, 0x1234567n);
  assert.equal(p.ctr, 42n);
  assert.deepEqual(await unprotectFrame(key, out, clearBytes('video', out)), frame);
  // Delta frames keep 3 bytes, audio 1; tiny frames work too.
  const delta = randomBytes(40);
  delta[0] |= 1;
  assert.equal(clearBytes('video', delta), 3);
  assert.equal(clearBytes('audio', delta), 1);
  for (const [kind, f] of [['video', delta], ['audio', randomBytes(1)], ['video', Uint8Array.of(0)], ['audio', randomBytes(60)]]) {
    const c = clearBytes(kind, f);
    const o = await protectFrame(key, 7n, f, c);
    assert.deepEqual(await unprotectFrame(key, o, clearBytes(kind, o)), f, `${kind} ${f.length}`);
  }
});

test('a flipped bit anywhere fails authentication', async () => {
  const key = await SFrameKey.derive(randomBytes(16), 300n);
  const frame = randomBytes(100);
  frame[0] &= 0xfe;
  const out = await protectFrame(key, 9n, frame, 10);
  const positions = {
    'clear bytes': 5,
    ciphertext: 50,
    tag: out.length - 1 - 4 - 3,
    'header (CTR)': out.length - 2,
    'header (KID)': out.length - 4,
  };
  for (const [what, i] of Object.entries(positions)) {
    const bad = out.slice();
    bad[i] ^= 0x10;
    await assert.rejects(async () => {
      const p = parseFrame(bad);
      if (p.kid !== key.kid) throw new SFrameError('KID changed');
      await unprotectFrame(key, bad, 10, p);
    }, SFrameError, what);
  }
  const bad = out.slice();
  bad[bad.length - 1] = 40; // header length out of range
  assert.throws(() => parseFrame(bad), SFrameError);
  // Another key with the same KID fails too.
  const other = await SFrameKey.derive(randomBytes(16), 300n);
  await assert.rejects(unprotectFrame(other, out, 10), SFrameError);
});

test('nonce: salt XOR counter in the last 8 bytes', () => {
  const salt = hex('000000000000000000000000');
  assert.equal(toHex(makeNonce(salt, 0x0102n)), '000000000000000000000102');
  assert.equal(toHex(makeNonce(hex('ffffffffffffffffffffffff'), 0xffffffffffffffffn)), 'ffffffff0000000000000000');
});
