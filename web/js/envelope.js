// @ts-check
// The data-channel envelope (docs/datachannels.md): every chat line,
// reaction, pointer move and file chunk, in mesh and SFU mode alike, is one
// binary message
//
//   clear routing header                      sealed body
//   u8 version | u8 n | from | u8 k | to      sealer.seal(u32 len | head JSON | data)
//
// The header is all the SFU reads (sfu/datachannel.go parseRoute): who sent
// it (the SFU drops a message whose sender is not the connection it came
// on) and whom it is for ("" = everyone). The body is sealed with the
// injected sealer (E2EE keys when the room has them, identity otherwise);
// its JSON head repeats from/to, so a relay that rewrote the clear header
// is caught when the body is opened.
//
// Validation on receipt: anything malformed, oversized, of an unknown type
// or with out-of-range fields is dropped with a console warning — decode
// never throws into the page.

/** Envelope version; a receiver drops other versions. */
export const VERSION = 1;
/** Longest participant id in a header (the server's ids are far shorter). */
export const MAX_ID = 64;
/** Largest binary data of one message (a file chunk). */
export const MAX_DATA = 64 * 1024;
/** Largest JSON head (chat text is the biggest field). */
export const MAX_HEAD = 16 * 1024;
/**
 * Largest message on the wire: header, sealing overhead (SFrame-like:
 * well under 1 KiB), head and data. 80 KiB stays below the SCTP message
 * size both Chromium and pion accept.
 */
export const MAX_MESSAGE = 80 * 1024;
/** Longest chat message, in UTF-16 code units. */
export const MAX_CHAT = 4000;
/** Longest file name. */
export const MAX_FILE_NAME = 255;
/** Most points in one `ink` message. */
export const MAX_INK_BATCH = 64;
/** The reactions everybody can send. */
export const EMOJI = Object.freeze(['👍', '👏', '😂', '🎉', '❤️', '😮']);

/** An identity sealer: the default when the room has no E2EE. */
export const identitySealer = Object.freeze({
  seal: async (bytes) => bytes,
  open: async (_senderId, bytes) => bytes,
});

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

const isStr = (v, max) => typeof v === 'string' && v.length <= max;
const isId = (v) => isStr(v, MAX_ID) && v.length > 0;
const isInt = (v, max = Number.MAX_SAFE_INTEGER) => Number.isSafeInteger(v) && v >= 0 && v <= max;
const isUnit = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
const isHex64 = (v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const fileId = (p) => isStr(p.id, 64) && /^[A-Za-z0-9_-]{1,64}$/.test(p.id);

/**
 * The message types and what their payload must look like. A type with
 * `data: true` carries binary data after the head.
 */
export const TYPES = Object.freeze({
  // reliable, ordered ("parley/ctl")
  // dm: meant for the addressee alone (`to` is routing: a copy for everyone
  // may be addressed too, when it goes through the SFU one by one)
  chat: { check: (p) => isStr(p.text, MAX_CHAT) && p.text.trim().length > 0 && (p.dm === undefined || typeof p.dm === 'boolean') },
  react: { check: (p) => EMOJI.includes(p.emoji) },
  hand: { check: (p) => typeof p.up === 'boolean' && (p.at === undefined || isInt(p.at)) },
  'file-offer': {
    check: (p) => fileId(p) && isStr(p.name, MAX_FILE_NAME) && p.name.length > 0 && isInt(p.size)
      && isStr(p.mime ?? '', 128) && isInt(p.chunk, MAX_DATA) && p.chunk > 0,
  },
  'file-accept': { check: fileId },
  'file-decline': { check: fileId },
  'file-cancel': { check: (p) => fileId(p) && isStr(p.reason ?? '', 200) },
  'file-ack': { check: (p) => fileId(p) && isInt(p.next) && (p.resync === undefined || typeof p.resync === 'boolean') },
  // freehand ink on a shared screen: a batch of points [x, y, x, y, …]
  ink: {
    check: (p) => isId(p.screen) && isInt(p.id, 2 ** 31) && Array.isArray(p.pts)
      && p.pts.length >= 2 && p.pts.length <= 2 * MAX_INK_BATCH && p.pts.length % 2 === 0 && p.pts.every(isUnit),
  },
  // unordered, no retransmits ("parley/ptr")
  ptr: {
    check: (p) => isUnit(p.x) && isUnit(p.y) && isId(p.screen)
      && (p.click === undefined || typeof p.click === 'boolean'),
  },
  'ptr-off': { check: (p) => isId(p.screen) },
  // bulk ("parley/file")
  'file-chunk': { data: true, check: (p) => fileId(p) && isInt(p.i) },
  'file-end': { check: (p) => fileId(p) && isInt(p.n) && isHex64(p.root) },
});

/**
 * encodeHeader builds the clear routing header.
 * @param {string} from @param {string} to ('' = everyone)
 */
export function encodeHeader(from, to = '') {
  const f = enc.encode(from);
  const t = enc.encode(to);
  if (!f.length || f.length > MAX_ID || t.length > MAX_ID) throw new Error(`envelope: bad ids ${from} → ${to}`);
  const out = new Uint8Array(3 + f.length + t.length);
  out[0] = VERSION;
  out[1] = f.length;
  out.set(f, 2);
  out[2 + f.length] = t.length;
  out.set(t, 3 + f.length);
  return out;
}

/**
 * decodeHeader reads the routing header; null if malformed.
 * @param {Uint8Array} b
 * @returns {{from: string, to: string, body: Uint8Array}|null}
 */
export function decodeHeader(b) {
  if (b.length < 3 || b[0] !== VERSION) return null;
  const n = b[1];
  if (n === 0 || n > MAX_ID || b.length < 3 + n) return null;
  const k = b[2 + n];
  if (k > MAX_ID || b.length < 3 + n + k) return null;
  try {
    return {
      from: dec.decode(b.subarray(2, 2 + n)),
      to: dec.decode(b.subarray(3 + n, 3 + n + k)),
      body: b.subarray(3 + n + k),
    };
  } catch {
    return null;
  }
}

/**
 * encode seals one message. Throws on a message this client must not send
 * (a bug, not input): unknown type, invalid payload, oversized.
 * @param {{from: string, to?: string, type: string, payload?: object, data?: Uint8Array|null}} m
 * @param {{seal(b: Uint8Array): Promise<Uint8Array>}} sealer
 * @returns {Promise<Uint8Array>}
 */
export async function encode({ from, to = '', type, payload = {}, data = null }, sealer = identitySealer) {
  const spec = TYPES[type];
  if (!spec || !spec.check(payload)) throw new Error(`envelope: invalid ${type} message`);
  if (!!spec.data !== !!data) throw new Error(`envelope: ${type} ${spec.data ? 'needs' : 'takes no'} data`);
  if (data && data.length > MAX_DATA) throw new Error(`envelope: ${data.length} bytes of data is too much`);
  const head = enc.encode(JSON.stringify({ v: VERSION, t: type, f: from, to, p: payload }));
  if (head.length > MAX_HEAD) throw new Error('envelope: message too large');
  const plain = new Uint8Array(4 + head.length + (data?.length ?? 0));
  new DataView(plain.buffer).setUint32(0, head.length);
  plain.set(head, 4);
  if (data) plain.set(data, 4 + head.length);
  const sealed = new Uint8Array(await sealer.seal(plain));
  const header = encodeHeader(from, to);
  const out = new Uint8Array(header.length + sealed.length);
  out.set(header);
  out.set(sealed, header.length);
  if (out.length > MAX_MESSAGE) throw new Error('envelope: message too large');
  return out;
}

/**
 * decode opens and validates one received message. It never throws: a
 * message that is not for us, malformed, oversized, of an unknown type or
 * that does not open is dropped (null) with a console warning.
 * @param {ArrayBuffer|Uint8Array|string} raw what the data channel gave
 * @param {{open(senderId: string, b: Uint8Array): Promise<Uint8Array>}} sealer
 * @param {{self: string, from?: string}} expect our id (a message must be
 *   for us or everyone) and, on a mesh link, who is at its other end
 * @returns {Promise<{from: string, to: string, type: string, payload: object, data: Uint8Array|null, via?: string}|null>}
 *   via is left for the receiver to set (channels.js: 'mesh' or 'sfu').
 */
export async function decode(raw, sealer, expect, warn = console.warn) {
  const drop = (why) => {
    warn(`parley: dropped a data-channel message: ${why}`);
    return null;
  };
  try {
    if (typeof raw === 'string') return drop('text, not binary');
    const b = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
    if (b.length > MAX_MESSAGE) return drop(`${b.length} bytes is too large`);
    const h = decodeHeader(b);
    if (!h) return drop('malformed routing header');
    if (expect.from !== undefined && h.from !== expect.from) return drop(`claims to be from ${h.from}`);
    if (h.from === expect.self) return drop('our own message');
    if (h.to !== '' && h.to !== expect.self) return drop(`addressed to ${h.to}`);
    let plain;
    try {
      plain = new Uint8Array(await sealer.open(h.from, h.body));
    } catch (err) {
      return drop(`does not open (${err?.message ?? err})`);
    }
    if (plain.length < 4) return drop('short body');
    const n = new DataView(plain.buffer, plain.byteOffset, plain.byteLength).getUint32(0);
    if (n > MAX_HEAD || 4 + n > plain.length) return drop('bad head length');
    let head;
    try {
      head = JSON.parse(dec.decode(plain.subarray(4, 4 + n)));
    } catch {
      return drop('head is not JSON');
    }
    if (!head || typeof head !== 'object' || head.v !== VERSION) return drop('unknown version');
    if (head.f !== h.from || head.to !== h.to) return drop('sealed ids differ from the routing header');
    const spec = Object.hasOwn(TYPES, head.t) ? TYPES[head.t] : null;
    if (!spec) return drop(`unknown type ${String(head.t).slice(0, 32)}`);
    const p = head.p;
    if (!p || typeof p !== 'object' || Array.isArray(p) || !spec.check(p)) return drop(`invalid ${head.t} payload`);
    const data = plain.subarray(4 + n);
    if (spec.data ? data.length > MAX_DATA : data.length) return drop(`bad data for ${head.t}`);
    return { from: h.from, to: h.to, type: head.t, payload: p, data: spec.data ? data : null };
  } catch (err) {
    return drop(`unexpected: ${err?.message ?? err}`);
  }
}
