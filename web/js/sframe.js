// @ts-check
// SFrame (RFC 9605) with WebCrypto: the frame format of Parley's end-to-end
// encryption (docs/e2ee.md). DOM-free; used by the E2EE worker for media
// frames and by the controller for sealed data.
//
// Cipher suite: AES_128_GCM_SHA256_128 (0x0004): HKDF-SHA256, AES-128-GCM,
// 12-byte nonce, 16-byte tag. Chosen over AES_256_GCM_SHA512_128 because
// it is the suite every WebCrypto has hardware-fast, and 128-bit keys are
// ample for per-call keys that live minutes.
//
// What is RFC 9605 here, byte for byte: the header encoding (§4.3), the key
// and salt derivation (§4.4.2), the nonce (salt XOR CTR, §4.4.3), and the
// AEAD with AAD = header + metadata (§4.4.3). sframeEncrypt/sframeDecrypt
// produce and take the RFC's "header + ciphertext" form (the Appendix C
// test vectors check it).
//
// The one deviation, for media frames only (protectFrame/unprotectFrame):
// the first N bytes of the encoded frame stay in clear and are the RFC's
// "metadata" (authenticated, not encrypted), and the SFrame header is moved
// to the END of the frame, followed by one byte giving its length:
//
//   clear[N] | AEAD ciphertext + tag | SFrame header | header length (1 byte)
//
// Reason: the VP8 depacketizer, the RTP packetizer and the SFU read the
// codec's first bytes (key frame flag, dimensions; Opus TOC); they must
// stay first. The length byte lets the receiver find the header from the
// end (the RFC header is only parseable from its first byte).

/** RFC 9605 §8.1: AES_128_GCM_SHA256_128. */
export const CIPHER_SUITE = 0x0004;
/** AEAD.Nk: AES-128 key size in bytes. */
export const NK = 16;
/** AEAD.Nn: nonce size in bytes. */
export const NN = 12;
/** AEAD.Nt: tag size in bytes. */
export const NT = 16;
/** Longest SFrame header: config byte + 8-byte KID + 8-byte CTR. */
export const MAX_HEADER = 17;

const enc = new TextEncoder();
const subtle = globalThis.crypto.subtle;

/** Raised for every frame or message that does not authenticate or parse. */
export class SFrameError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SFrameError';
  }
}

/** minBytes is the number of bytes of a BigInt in minimal big-endian form (1 for 0). */
function minBytes(v) {
  let n = 1;
  while (v >> BigInt(8 * n) > 0n) n++;
  return n;
}

function putBE(out, off, v, n) {
  for (let i = n - 1; i >= 0; i--) {
    out[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function getBE(b, off, n) {
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(b[off + i]);
  return v;
}

/**
 * encodeHeader encodes KID and CTR (numbers or BigInts, 0 ≤ v < 2^64) as an
 * RFC 9605 §4.3 header: values 0–7 inside the config byte, larger ones
 * appended in minimal big-endian form (KID first), with length − 1 in the
 * config byte and the X / Y flag set.
 */
export function encodeHeader(kid, ctr) {
  const k = BigInt(kid);
  const c = BigInt(ctr);
  if (k < 0n || c < 0n || k >= 1n << 64n || c >= 1n << 64n) throw new RangeError('sframe: KID or CTR out of range');
  const kl = k < 8n ? 0 : minBytes(k);
  const cl = c < 8n ? 0 : minBytes(c);
  const out = new Uint8Array(1 + kl + cl);
  out[0] = (kl ? 0x80 | ((kl - 1) << 4) : Number(k) << 4) | (cl ? 0x08 | (cl - 1) : Number(c));
  if (kl) putBE(out, 1, k, kl);
  if (cl) putBE(out, 1 + kl, c, cl);
  return out;
}

/**
 * decodeHeader parses an RFC 9605 header at the start of b:
 * {kid, ctr (BigInts), length}. Throws SFrameError when b is too short.
 */
export function decodeHeader(b) {
  if (b.length < 1) throw new SFrameError('sframe: empty header');
  const cfg = b[0];
  const x = cfg & 0x80;
  const y = cfg & 0x08;
  const kl = x ? ((cfg >> 4) & 7) + 1 : 0;
  const cl = y ? (cfg & 7) + 1 : 0;
  const length = 1 + kl + cl;
  if (b.length < length) throw new SFrameError('sframe: truncated header');
  const kid = x ? getBE(b, 1, kl) : BigInt((cfg >> 4) & 7);
  const ctr = y ? getBE(b, 1 + kl, cl) : BigInt(cfg & 7);
  return { kid, ctr, length };
}

/** headerLength is the length of the header whose config byte is cfg. */
function headerLength(cfg) {
  return 1 + (cfg & 0x80 ? ((cfg >> 4) & 7) + 1 : 0) + (cfg & 0x08 ? (cfg & 7) + 1 : 0);
}

/** be64 is v as 8 big-endian bytes. */
function be64(v) {
  const out = new Uint8Array(8);
  putBE(out, 0, BigInt(v), 8);
  return out;
}

/** concat joins byte arrays into a new one. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * labels returns the RFC 9605 §4.4.2 HKDF labels for a KID:
 * "SFrame 1.0 Secret key " + KID (8 bytes BE) + cipher_suite (2 bytes BE),
 * and the same with "salt".
 */
export function labels(kid) {
  const suite = new Uint8Array([CIPHER_SUITE >> 8, CIPHER_SUITE & 0xff]);
  return {
    key: concat(enc.encode('SFrame 1.0 Secret key '), be64(kid), suite),
    salt: concat(enc.encode('SFrame 1.0 Secret salt '), be64(kid), suite),
  };
}

/**
 * deriveKeySalt runs RFC 9605 §4.4.2 derive_key_salt(KID, base_key):
 * sframe_secret = HKDF-Extract("", base_key); sframe_key and sframe_salt
 * are HKDF-Expand of it with the labels above. WebCrypto's HKDF does
 * Extract then Expand; an empty salt is the RFC's "" (HMAC zero-pads keys,
 * so it equals RFC 5869's default of HashLen zeros).
 * Returns the raw bytes {key: Uint8Array(16), salt: Uint8Array(12)}.
 */
export async function deriveKeySaltRaw(baseKey, kid) {
  const ikm = await subtle.importKey('raw', baseKey, 'HKDF', false, ['deriveBits']);
  const l = labels(kid);
  const hkdf = (info, n) => subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info }, ikm, n * 8);
  const [key, salt] = await Promise.all([hkdf(l.key, NK), hkdf(l.salt, NN)]);
  return { key: new Uint8Array(key), salt: new Uint8Array(salt) };
}

/**
 * SFrameKey is one base_key ready for use under one KID: the AES-GCM key
 * (not extractable) and the salt. Make it with SFrameKey.derive.
 */
export class SFrameKey {
  constructor(kid, aesKey, salt) {
    /** @type {bigint} */
    this.kid = BigInt(kid);
    this.aesKey = aesKey;
    this.salt = salt;
  }

  /** derive runs derive_key_salt and imports sframe_key for AES-GCM. */
  static async derive(baseKey, kid) {
    const { key, salt } = await deriveKeySaltRaw(baseKey, kid);
    const aesKey = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
    return new SFrameKey(kid, aesKey, salt);
  }

  /** nonce is RFC 9605 §4.4.3: sframe_salt XOR CTR (big-endian, Nn bytes). */
  nonce(ctr) {
    return makeNonce(this.salt, ctr);
  }
}

/** makeNonce XORs a 64-bit counter into the last 8 bytes of the 12-byte salt. */
export function makeNonce(salt, ctr) {
  const n = salt.slice();
  let c = BigInt(ctr);
  for (let i = NN - 1; i >= NN - 8; i--) {
    n[i] ^= Number(c & 0xffn);
    c >>= 8n;
  }
  return n;
}

/**
 * sframeEncrypt is RFC 9605 §4.4.3 encrypt(CTR, KID, metadata, plaintext):
 * header + AEAD.Encrypt(sframe_key, nonce, header + metadata, plaintext).
 */
export async function sframeEncrypt(key, ctr, metadata, plaintext) {
  const header = encodeHeader(key.kid, ctr);
  const ct = await subtle.encrypt(
    { name: 'AES-GCM', iv: key.nonce(ctr), additionalData: concat(header, metadata), tagLength: NT * 8 },
    key.aesKey, plaintext);
  return concat(header, new Uint8Array(ct));
}

/**
 * sframeDecrypt is RFC 9605 §4.4.4 decrypt(metadata, sframe_ciphertext) for
 * a key already selected by the caller (see parseKid). Throws SFrameError
 * when the ciphertext does not authenticate.
 */
export async function sframeDecrypt(key, metadata, sframeCiphertext) {
  const { kid, ctr, length } = decodeHeader(sframeCiphertext);
  if (kid !== key.kid) throw new SFrameError('sframe: wrong key for KID');
  const header = sframeCiphertext.subarray(0, length);
  return decryptBody(key, ctr, header, metadata, sframeCiphertext.subarray(length));
}

async function decryptBody(key, ctr, header, metadata, body) {
  if (body.length < NT) throw new SFrameError('sframe: ciphertext shorter than its tag');
  try {
    const pt = await subtle.decrypt(
      { name: 'AES-GCM', iv: key.nonce(ctr), additionalData: concat(header, metadata), tagLength: NT * 8 },
      key.aesKey, body);
    return new Uint8Array(pt);
  } catch {
    throw new SFrameError('sframe: authentication failed');
  }
}

/**
 * protectFrame encrypts an encoded media frame, keeping its first `clear`
 * bytes readable and authenticated (the RFC's metadata), with the SFrame
 * header after the ciphertext (layout in the header comment).
 */
export async function protectFrame(key, ctr, frame, clear) {
  const n = Math.min(clear, frame.length);
  const meta = frame.subarray(0, n);
  const header = encodeHeader(key.kid, ctr);
  const ct = await subtle.encrypt(
    { name: 'AES-GCM', iv: key.nonce(ctr), additionalData: concat(header, meta), tagLength: NT * 8 },
    key.aesKey, frame.subarray(n));
  return concat(meta, new Uint8Array(ct), header, new Uint8Array([header.length]));
}

/**
 * parseFrame finds the SFrame header at the end of a protected frame:
 * {kid, ctr, header, headerStart}. Throws SFrameError when there is none.
 */
export function parseFrame(data) {
  if (data.length < 2) throw new SFrameError('sframe: frame too short');
  const hl = data[data.length - 1];
  if (hl < 1 || hl > MAX_HEADER || hl + 1 > data.length) throw new SFrameError('sframe: bad header length');
  const headerStart = data.length - 1 - hl;
  const header = data.subarray(headerStart, headerStart + hl);
  if (headerLength(header[0]) !== hl) throw new SFrameError('sframe: header length mismatch');
  const { kid, ctr } = decodeHeader(header);
  return { kid, ctr, header, headerStart };
}

/**
 * unprotectFrame decrypts a frame made by protectFrame with the same
 * `clear` count; parsed is parseFrame(data) (the caller picked the key by
 * its KID). Returns clear bytes + plaintext; throws SFrameError.
 */
export async function unprotectFrame(key, data, clear, parsed = parseFrame(data)) {
  const { kid, ctr, header, headerStart } = parsed;
  if (kid !== key.kid) throw new SFrameError('sframe: wrong key for KID');
  const n = Math.min(clear, Math.max(0, headerStart - NT));
  const pt = await decryptBody(key, ctr, header, data.subarray(0, n), data.subarray(n, headerStart));
  return concat(data.subarray(0, n), pt);
}

/**
 * clearBytes is how many leading bytes of an encoded frame stay in clear
 * (docs/e2ee.md): Opus 1 (the TOC byte); VP8 10 on key frames (3-byte
 * frame tag + start code + dimensions), 3 on delta frames (the tag). The
 * VP8 key-frame flag is bit 0 of the first byte (0 = key frame, RFC 6386
 * §9.1), readable on both sides because it is itself in clear.
 */
export function clearBytes(kind, data) {
  if (kind === 'audio') return 1;
  if (data.length === 0) return 0;
  return (data[0] & 1) === 0 ? 10 : 3;
}
