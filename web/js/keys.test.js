// The key schedule: announcements and their MAC, pairwise wrapping,
// safety codes, ratchet on join, fresh key on leave, the grace window.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Identity, roomMacKey, announcement, checkAnnouncement, wrapMediaKey, unwrapMediaKey, safetyCode,
  SenderKeys, KeyRing, GRACE_MS, ratchet, makeKid, splitKid, b64, randomKey,
} from './keys.js';
import { SFrameKey, protectFrame, unprotectFrame, parseFrame } from './sframe.js';

const secret = crypto.getRandomValues(new Uint8Array(16));

test('announcements: verified with the secret, forged when changed, unverified without', async () => {
  const a = await Identity.generate();
  const mallory = await Identity.generate();
  const mac = await roomMacKey(secret);
  const msg = await announcement(a, 'alice', 77, mac);
  assert.equal((await checkAnnouncement(msg, 'alice', mac)).auth, 'verified');
  // The server swaps the public key, the sender or the tag: forged.
  assert.equal((await checkAnnouncement({ ...msg, pub: b64.encode(mallory.pub) }, 'alice', mac)).auth, 'forged');
  assert.equal((await checkAnnouncement(msg, 'bob', mac)).auth, 'forged');
  assert.equal((await checkAnnouncement({ ...msg, tag: 78 }, 'alice', mac)).auth, 'forged');
  // Another room's secret: forged.
  const other = await roomMacKey(crypto.getRandomValues(new Uint8Array(16)));
  assert.equal((await checkAnnouncement(msg, 'alice', other)).auth, 'forged');
  // No secret on either side: unverified.
  assert.equal((await checkAnnouncement(msg, 'alice', null)).auth, 'unverified');
  const bare = await announcement(a, 'alice', 77, null);
  assert.equal(bare.mac, undefined);
  assert.equal((await checkAnnouncement(bare, 'alice', mac)).auth, 'unverified');
  await assert.rejects(checkAnnouncement({ ...msg, pub: 'AAAA' }, 'alice', mac));
  assert.equal(await roomMacKey(null), null);
});

test('the wrap key is the same on both ends and bound to both ids', async () => {
  const a = await Identity.generate();
  const b = await Identity.generate();
  const ka = await a.wrapKeyFor('alice', 'bob', b.pub);
  const kb = await b.wrapKeyFor('bob', 'alice', a.pub);
  const raw = randomKey();
  const msg = await wrapMediaKey(ka, 5, raw, 'alice', 'bob');
  assert.deepEqual(await unwrapMediaKey(kb, msg, 'alice', 'bob'), raw);
  // Replayed as if to someone else, or with another KID: refused.
  await assert.rejects(unwrapMediaKey(kb, msg, 'alice', 'carol'));
  await assert.rejects(unwrapMediaKey(kb, { ...msg, kid: 6 }, 'alice', 'bob'));
  // A third party's pairwise key cannot open it.
  const c = await Identity.generate();
  const kc = await c.wrapKeyFor('bob', 'alice', a.pub);
  await assert.rejects(unwrapMediaKey(kc, msg, 'alice', 'bob'));
});

test('the private key is not extractable', async () => {
  const a = await Identity.generate();
  assert.equal(a.privateKey.extractable, false);
  assert.equal(a.pub.length, 65);
});

test('safety codes match on both ends and differ with another key', async () => {
  const a = await Identity.generate();
  const b = await Identity.generate();
  const c = await Identity.generate();
  const ab = await safetyCode(a.pub, b.pub);
  assert.match(ab, /^\d{4} \d{4} \d{4}$/);
  assert.equal(await safetyCode(b.pub, a.pub), ab);
  assert.notEqual(await safetyCode(a.pub, c.pub), ab);
});

test('KIDs: tag and epoch', () => {
  const kid = makeKid(0xabcdef, 3);
  assert.deepEqual(splitKid(kid), { tag: 0xabcdef, epoch: 3 });
  assert.deepEqual(splitKid(BigInt(kid)), { tag: 0xabcdef, epoch: 3 });
  assert.ok(Number.isSafeInteger(makeKid(0xffffff, 0xffff)));
});

test('join ratchets: old receivers follow without a message, a newcomer cannot go back', async () => {
  const s = new SenderKeys();
  const ring = new KeyRing();
  ring.setTag('alice', s.tag);
  ring.add('alice', s.kid, s.raw);
  const k0 = s.raw;
  const kid0 = s.kid;
  await s.onJoin();
  assert.equal(splitKid(s.kid).epoch, 1);
  assert.deepEqual(s.raw, await ratchet(k0));
  // A receiver that holds epoch 0 derives epoch 1 from the KID alone.
  const e = await ring.lookup(s.kid);
  assert.ok(e.tentative);
  assert.deepEqual(e.raw, s.raw);
  // …and decrypts the sender's frame with it.
  const key = await SFrameKey.derive(s.raw, s.kid);
  const frame = await protectFrame(key, 0n, crypto.getRandomValues(new Uint8Array(50)), 1);
  await unprotectFrame(await e.key, frame, 1, parseFrame(frame));
  ring.confirm(e);
  assert.ok(ring.keys.has(s.kid));
  // The newcomer, given epoch 1, has nothing for epoch 0.
  const newcomer = new KeyRing();
  newcomer.add('alice', s.kid, s.raw);
  assert.equal(await newcomer.lookup(kid0), null);
});

test('leave switches to a fresh key that cannot be ratcheted to', async () => {
  const s = new SenderKeys();
  const ring = new KeyRing();
  ring.add('alice', s.kid, s.raw);
  const before = s.raw;
  s.onLeave();
  assert.notDeepEqual(s.raw, before);
  assert.notDeepEqual(s.raw, await ratchet(before));
  // A leaver's guess (the ratchet) does not decrypt.
  const guess = await ring.lookup(s.kid);
  const key = await SFrameKey.derive(s.raw, s.kid);
  const frame = await protectFrame(key, 1n, crypto.getRandomValues(new Uint8Array(50)), 1);
  await assert.rejects(unprotectFrame(await guess.key, frame, 1, parseFrame(frame)));
});

test('grace window: older keys are kept GRACE_MS after a newer one is used', async () => {
  let now = 1000;
  const ring = new KeyRing({ now: () => now });
  const s = new SenderKeys();
  ring.add('alice', s.kid, s.raw);
  const kid0 = s.kid;
  s.onLeave();
  const e1 = ring.add('alice', s.kid, s.raw);
  // Both kept while the new key is unused (frames may still use the old one).
  now += 10 * GRACE_MS;
  assert.ok(await ring.lookup(kid0));
  ring.confirm(e1);
  now += GRACE_MS - 1;
  assert.ok(await ring.lookup(kid0), 'old key within the grace window');
  now += 2;
  assert.equal(await ring.lookup(kid0), null, 'old key after the grace window');
  assert.ok(await ring.lookup(s.kid));
  ring.forget('alice');
  assert.equal(await ring.lookup(s.kid), null);
});

test('replays: each (KID, CTR) is taken once, per key, also through a ratcheted key', async () => {
  const s = new SenderKeys();
  const ring = new KeyRing();
  ring.setTag('alice', s.tag);
  const e0 = ring.add('alice', s.kid, s.raw);
  ring.confirm(e0);
  assert.equal(ring.fresh(e0, 0n), true);
  assert.equal(ring.fresh(e0, 1n), true);
  assert.equal(ring.fresh(e0, 0n), false, 'a replayed frame');
  // The same key announced again keeps what was seen.
  assert.equal(ring.fresh(ring.add('alice', s.kid, s.raw), 1n), false);
  // A new key (a join ratchets) counts from 0 again.
  await s.onJoin();
  const e1a = await ring.lookup(s.kid);
  const e1b = await ring.lookup(s.kid); // two frames looked up before either confirmed
  ring.confirm(e1a);
  assert.equal(ring.fresh(e1a, 0n), true);
  ring.confirm(e1b);
  assert.equal(ring.fresh(e1b, 0n), false, 'both lookups share one window once confirmed');
});
