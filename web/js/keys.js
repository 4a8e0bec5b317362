// @ts-check
// Encoding helpers of the E2EE layer, DOM-free. The key schedule itself is
// MLS's (mls.js: group keys, RFC 9420) and RFC 9605 §5.2's (epochs.js:
// per-sender SFrame keys from the MLS exporter); nothing here makes keys.

export const b64 = {
  /** encode bytes as base64url without padding. */
  encode(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
  },
  /** decode base64url (or base64); throws on garbage. */
  decode(str) {
    if (typeof str !== 'string' || !/^[A-Za-z0-9_\-+/]*={0,2}$/.test(str)) throw new Error('bad base64');
    const s = atob(str.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  },
};
