import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encode, decode, encodeHeader, decodeHeader, identitySealer, MAX_MESSAGE, MAX_CHAT, VERSION,
} from './envelope.js';

const quiet = () => {};
const warnings = () => {
  const list = [];
  const warn = (m) => list.push(m);
  return { list, warn };
};

test('a chat message round-trips, header in clear', async () => {
  const b = await encode({ from: 'ada', type: 'chat', payload: { text: 'hi <b>' } });
  const h = decodeHeader(b);
  assert.deepEqual([h.from, h.to], ['ada', '']);
  assert.equal(b[0], VERSION);
  const m = await decode(b, identitySealer, { self: 'bob' }, quiet);
  assert.deepEqual(m, { from: 'ada', to: '', type: 'chat', payload: { text: 'hi <b>' }, data: null });
});

test('an addressed message reaches only its addressee', async () => {
  const b = await encode({ from: 'ada', to: 'bob', type: 'chat', payload: { text: 'psst' } });
  assert.equal((await decode(b, identitySealer, { self: 'bob' }, quiet)).to, 'bob');
  const w = warnings();
  assert.equal(await decode(b, identitySealer, { self: 'cy' }, w.warn), null);
  assert.match(w.list[0], /addressed to bob/);
});

test('binary data rides after the head', async () => {
  const data = new Uint8Array([0, 1, 2, 255]);
  const b = await encode({ from: 'a', to: 'b', type: 'file-chunk', payload: { id: 'f1', i: 7 }, data });
  const m = await decode(b.buffer, identitySealer, { self: 'b' }, quiet);
  assert.equal(m.type, 'file-chunk');
  assert.deepEqual([...m.data], [0, 1, 2, 255]);
});

test('the sealer sees the body only, and a body that does not open is dropped', async () => {
  const xor = {
    seal: async (b) => b.map((x) => x ^ 0x5a),
    open: async (id, b) => {
      if (id !== 'ada') throw new Error('no key');
      return b.map((x) => x ^ 0x5a);
    },
  };
  const b = await encode({ from: 'ada', type: 'react', payload: { emoji: '🎉' } }, xor);
  assert.equal(decodeHeader(b).from, 'ada'); // routing stays readable
  assert.equal((await decode(b, xor, { self: 'bob' }, quiet)).payload.emoji, '🎉');
  assert.equal(await decode(b, identitySealer, { self: 'bob' }, quiet), null);
  // The same body under another sender's name does not open.
  const forged = new Uint8Array([...encodeHeader('eve'), ...decodeHeader(b).body]);
  assert.equal(await decode(forged, xor, { self: 'bob' }, quiet), null);
});

test('a rewritten routing header is caught by the sealed copy of the ids', async () => {
  const b = await encode({ from: 'ada', to: 'bob', type: 'chat', payload: { text: 'x' } });
  const moved = new Uint8Array([...encodeHeader('ada', ''), ...decodeHeader(b).body]);
  const w = warnings();
  assert.equal(await decode(moved, identitySealer, { self: 'cy' }, w.warn), null);
  assert.match(w.list[0], /differ/);
});

test('a mesh link checks who is at its other end', async () => {
  const b = await encode({ from: 'eve', type: 'chat', payload: { text: 'I am ada' } });
  assert.equal(await decode(b, identitySealer, { self: 'bob', from: 'ada' }, quiet), null);
});

test('malformed, oversized and unknown messages are dropped with a warning, never thrown', async () => {
  const good = await encode({ from: 'a', type: 'chat', payload: { text: 'x' } });
  const head = (obj) => {
    const j = new TextEncoder().encode(JSON.stringify(obj));
    const body = new Uint8Array(4 + j.length);
    new DataView(body.buffer).setUint32(0, j.length);
    body.set(j, 4);
    return new Uint8Array([...encodeHeader('a'), ...body]);
  };
  const cases = {
    text: 'hello',
    empty: new Uint8Array(0),
    version: Uint8Array.of(2, ...good.subarray(1)),
    truncatedHeader: good.subarray(0, 2),
    oversized: new Uint8Array(MAX_MESSAGE + 1),
    ownMessage: await encode({ from: 'me', type: 'chat', payload: { text: 'x' } }),
    shortBody: new Uint8Array([...encodeHeader('a'), 0, 0]),
    badHeadLength: new Uint8Array([...encodeHeader('a'), 0xff, 0xff, 0xff, 0xff, 1]),
    notJson: new Uint8Array([...encodeHeader('a'), 0, 0, 0, 1, 0x7b]),
    unknownType: head({ v: 1, t: 'exec', f: 'a', to: '', p: {} }),
    protoType: head({ v: 1, t: '__proto__', f: 'a', to: '', p: {} }),
    badPayload: head({ v: 1, t: 'chat', f: 'a', to: '', p: { text: 'x'.repeat(MAX_CHAT + 1) } }),
    arrayPayload: head({ v: 1, t: 'chat', f: 'a', to: '', p: ['x'] }),
    badEmoji: head({ v: 1, t: 'react', f: 'a', to: '', p: { emoji: '💩' } }),
    ptrOutOfRange: head({ v: 1, t: 'ptr', f: 'a', to: '', p: { x: 1.5, y: 0, screen: 's' } }),
    ptrNaN: head({ v: 1, t: 'ptr', f: 'a', to: '', p: { x: null, y: 0, screen: 's' } }),
    dataWhereNone: new Uint8Array([...head({ v: 1, t: 'chat', f: 'a', to: '', p: { text: 'x' } }), 1, 2]),
    badRoot: head({ v: 1, t: 'file-end', f: 'a', to: '', p: { id: 'f', n: 1, root: 'zz' } }),
  };
  for (const [name, raw] of Object.entries(cases)) {
    const w = warnings();
    assert.equal(await decode(raw, identitySealer, { self: 'me' }, w.warn), null, name);
    assert.equal(w.list.length, 1, `${name} warns once`);
  }
});

test('encode refuses what this client must never send', async () => {
  await assert.rejects(encode({ from: 'a', type: 'nope' }));
  await assert.rejects(encode({ from: 'a', type: 'chat', payload: { text: '' } }));
  await assert.rejects(encode({ from: 'a', type: 'file-chunk', payload: { id: 'f', i: 0 } })); // no data
  await assert.rejects(encode({ from: '', type: 'chat', payload: { text: 'x' } }));
  await assert.rejects(encode({ from: 'a', type: 'file-chunk', payload: { id: 'f', i: 0 }, data: new Uint8Array(64 * 1024 + 1) }));
});

test('random bytes never throw', async () => {
  for (let i = 0; i < 500; i++) {
    const b = crypto.getRandomValues(new Uint8Array(1 + (i % 64)));
    if (i % 3 === 0) b[0] = VERSION;
    assert.equal(await decode(b, identitySealer, { self: 'me' }, quiet), null);
  }
});
