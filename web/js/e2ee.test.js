// The E2EE controller against a server that keeps, replays and forges key
// messages (docs/e2ee.md "What the server can do"). Node has WebCrypto;
// the encoded-transform worker is a stub, since these tests look at keys
// and sealed data only.
import { test } from 'node:test';
import assert from 'node:assert/strict';

globalThis.RTCRtpScriptTransform ??= function RTCRtpScriptTransform() {};
globalThis.Worker ??= class {
  postMessage() {}
  addEventListener() {}
  terminate() {}
};
const { E2EE, KEY_SWITCH_DELAY_MS } = await import('./e2ee.js');
const { GRACE_MS, Identity, announcement } = await import('./keys.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);

/**
 * call makes one E2EE controller per id, all holding the room secret, joined
 * through a fake server that relays every `key` message and logs it.
 */
async function call(ids) {
  const secret = crypto.getRandomValues(new Uint8Array(16));
  const log = [];
  const nodes = {};
  const signaling = (self) => ({
    key(data, to) {
      log.push({ from: self, to, data });
      for (const id of Object.keys(nodes)) if (id !== self && (!to || to === id)) nodes[id].onKey(self, data);
    },
  });
  for (const id of ids) nodes[id] = new E2EE({ signaling: signaling(id), secret });
  for (const id of ids) await nodes[id].start(id);
  await settle(nodes);
  return { nodes, log, close: () => Object.values(nodes).forEach((n) => n.close()) };
}

async function settle(nodes) {
  for (let i = 0; i < 3; i++) {
    await sleep(30);
    await Promise.all(Object.values(nodes).map((n) => n.chain));
  }
}

test('a key message the server kept and sends again does not bring back a retired key', async () => {
  const { nodes: { a, b }, log, close } = await call(['a', 'b']);
  try {
    const m1 = await a.sealData(enc('transfer 100 EUR'));
    assert.equal(dec(await b.openData('a', m1)), 'transfer 100 EUR');
    const kept = log.find((e) => e.from === 'a' && e.to === 'b' && e.data.t === 'key').data;
    a.peerLeft('c'); // someone leaves: A moves to a fresh key
    await sleep(KEY_SWITCH_DELAY_MS + 100);
    await b.openData('a', await a.sealData(enc('hello')));
    await sleep(GRACE_MS + 100); // the old key's grace ends
    await assert.rejects(b.openData('a', m1));
    b.onKey('a', kept);
    await b.chain;
    await assert.rejects(b.openData('a', m1), /no key|replayed/, 'the replayed key message re-armed the old key');
  } finally {
    close();
  }
});

test('a second public key for a verified participant is forged, and gets no key', async () => {
  const { nodes, log, close } = await call(['a', 'b']);
  const { a, b } = nodes;
  try {
    assert.equal(b.peerInfo('a').auth, 'verified');
    const forged = [];
    b.addEventListener('forged', (e) => forged.push(e.detail.id));
    const evil = await Identity.generate(); // the server's own key, no MAC
    log.length = 0;
    b.onKey('a', await announcement(evil, 'a', a.sender.tag, null));
    await b.chain;
    assert.equal(b.peerInfo('a').auth, 'forged');
    assert.deepEqual(forged, ['a']);
    assert.equal(log.filter((e) => e.from === 'b' && e.to === 'a' && e.data.t === 'key').length, 0, 'B wrapped its key for the server');
    // The genuine key again does not lift the warning.
    b.onKey('a', await announcement(a.identity, 'a', a.sender.tag, a.macKey));
    await b.chain;
    assert.equal(b.peerInfo('a').auth, 'forged');
  } finally {
    close();
  }
});

test('a participant cannot take over another one\'s tag', async () => {
  const { nodes, close } = await call(['a', 'b', 'c']);
  const { a, b, c } = nodes;
  try {
    await c.openData('a', await a.sealData(enc('hi')));
    // B holds the room secret, so its MAC is valid; only the tag is A's.
    c.onKey('b', await announcement(b.identity, 'b', a.sender.tag, b.macKey));
    await c.chain;
    assert.equal(c.peerInfo('b').auth, 'forged');
    assert.equal(dec(await c.openData('a', await a.sealData(enc('still there?')))), 'still there?');
  } finally {
    close();
  }
});
