// The MLS layer (mls.js, epochs.js) against the vendored ts-mls: group
// creation, adds and removes, the epoch keys every member derives, the
// RFC 9605 §5.2 KID layout, invite proofs, replay of an old epoch,
// KeyPackage lifetimes and the group's spent list, a split room, and a
// join racing a commit through a fake Delivery Service that orders
// commits per epoch as signaling/mls.go does. Needs the vendored
// libraries: scripts/vendor-web.sh (make test runs it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cipherSuite, newKeyPackage, readKeyPackage, Group, admit, proofKey, makeProof, checkProof,
  welcomeTag, checkWelcomeTag, makeKid, kidIndex, kidEpochBits, indexBits, roomCode,
  encodeIdentity, decodeIdentity, MlsInputError, EPOCH_BITS, KP_LIFETIME_S, MAX_KP_LIFETIME_S, lifetimeProblem,
} from './mls.js';
import { EpochRing, AHEAD_EPOCHS } from './epochs.js';
import { SFrameKey, protectFrame, unprotectFrame, parseFrame, deriveKeySaltRaw } from './sframe.js';

const enc = new TextEncoder();
const cs = await cipherSuite();
const eq = (a, b) => Buffer.from(a).equals(Buffer.from(b));

async function person(id, name = id.toUpperCase()) {
  return { id, name, kp: await newKeyPackage(cs, { id, name }) };
}

/** room: a creator and members added one at a time by the first member. */
async function room(ids) {
  const [first, ...rest] = await Promise.all(ids.map((id) => person(id)));
  const groups = new Map([[first.id, await Group.create(cs, first.kp, enc.encode('room'))]]);
  for (const p of rest) {
    const committer = groups.get(first.id);
    const r = await committer.commit({ adds: [readKeyPackage(p.kp.bytes).keyPackage] });
    for (const [id, g] of groups) if (id !== first.id) await g.process(r.commit);
    committer.adopt(r.next);
    groups.set(p.id, await Group.join(cs, p.kp, r.welcome));
  }
  return groups;
}

test('KeyPackage lifetimes: short, and refused once run out, not yet valid or too long', async () => {
  const now = BigInt(Math.floor(Date.now() / 1000));
  const p = await person('p');
  const kp = readKeyPackage(p.kp.bytes).keyPackage;
  const lt = kp.leafNode.lifetime;
  assert.ok(lt.notAfter - lt.notBefore <= BigInt(MAX_KP_LIFETIME_S));
  assert.equal(lifetimeProblem(kp), '');
  assert.match(lifetimeProblem(kp, now + BigInt(KP_LIFETIME_S) + 60n), /ran out/);
  // One made half an hour ago (recorded, replayed now): admit refuses it, and so does ts-mls at commit.
  const old = await newKeyPackage(cs, { id: 'o', name: 'O' }, now - 1800n);
  const r = await admit({ bytes: old.bytes, from: 'o' });
  assert.equal(r.ok, false);
  assert.equal(r.expired, true);
  const g = await Group.create(cs, (await person('a')).kp, enc.encode('room'));
  await assert.rejects(g.commit({ adds: [readKeyPackage(old.bytes).keyPackage] }), /Lifetime/);
  const long = structuredClone(kp);
  long.leafNode.lifetime = { notBefore: 0n, notAfter: 2n ** 63n - 1n };
  assert.match(lifetimeProblem(long), /longer/);
});

test('the spent list: every KeyPackage added is in the group context, and a member who joins later has it', async () => {
  const groups = await room(['a', 'b', 'c']);
  const a = groups.get('a');
  const [mb, mc] = a.members().filter((m) => m.id !== 'a');
  for (const g of groups.values()) {
    assert.ok(g.spent(mb.key) && g.spent(mc.key), 'b and c are on everyone\'s list');
  }
  // b leaves; d joins after: d never saw b's KeyPackage, its group knows it.
  const rm = await a.commit({ removes: [mb.leaf] });
  a.adopt(rm.next);
  const d = await person('d');
  const r = await a.commit({ adds: [readKeyPackage(d.kp.bytes).keyPackage] });
  a.adopt(r.next);
  const gd = await Group.join(cs, d.kp, r.welcome);
  assert.ok(gd.spent(mb.key), 'the Welcome carries b as spent');
  assert.ok(!gd.spent('00'.repeat(32)));
});

test('a split room shows different codes: two groups the server made for one room name never agree', async () => {
  // The server splits the room: a and b in one group, c and d in another,
  // each told it is "the room" (same group id even).
  const left = await room(['a', 'b']);
  const right = await room(['c', 'd']);
  const codes = async (groups) => Promise.all([...groups.values()].map(async (g) => (await g.epochKeys()).code));
  const [l, r] = [await codes(left), await codes(right)];
  assert.equal(l[0], l[1], 'one code within a group');
  assert.equal(r[0], r[1], 'one code within a group');
  assert.notEqual(l[0], r[0], 'the halves see different codes');
});

test('identity: id and name round-trip; bad credentials are refused', () => {
  assert.deepEqual(decodeIdentity(encodeIdentity({ id: 'p1', name: 'Ana' })), { id: 'p1', name: 'Ana' });
  assert.throws(() => decodeIdentity(enc.encode('not json')), MlsInputError);
  assert.throws(() => decodeIdentity(enc.encode('{"id":"","name":"x"}')), MlsInputError);
  assert.throws(() => decodeIdentity(enc.encode(JSON.stringify({ id: 'a', name: 'x'.repeat(65) }))), MlsInputError);
});

test('group: creation, adds and a remove; every member derives the same epoch keys and code', async () => {
  const groups = await room(['a', 'b', 'c']);
  const a = groups.get('a');
  assert.equal(a.epoch, 2);
  assert.deepEqual(a.members().map((m) => [m.leaf, m.id, m.name]), [[0, 'a', 'A'], [1, 'b', 'B'], [2, 'c', 'C']]);
  const keys = await Promise.all([...groups.values()].map((g) => g.epochKeys()));
  for (const k of keys) {
    assert.ok(eq(k.media, keys[0].media));
    assert.ok(eq(k.data, keys[0].data));
    assert.equal(k.code, keys[0].code);
    assert.equal(k.epoch, 2);
  }
  assert.ok(!eq(keys[0].media, keys[0].data), 'media and data keys differ (different exporter labels)');
  assert.match(keys[0].code, /^\d{5} \d{5} \d{5} \d{5} \d{5}$/);

  // b leaves: a removes it; a and c move on, b cannot follow.
  const before = keys[0];
  const r = await a.commit({ removes: [1] });
  a.adopt(r.next);
  assert.deepEqual(await groups.get('c').process(r.commit), { removed: false });
  assert.deepEqual(await groups.get('b').process(r.commit), { removed: true });
  const [ka, kc] = await Promise.all([a.epochKeys(), groups.get('c').epochKeys()]);
  assert.equal(ka.code, kc.code);
  assert.ok(eq(ka.media, kc.media));
  assert.ok(!eq(ka.media, before.media), 'a new epoch, a new key');
  assert.notEqual(ka.code, before.code, 'the room code changes with the epoch');
  assert.deepEqual(a.members().map((m) => m.id), ['a', 'c']);
});

test('SFrame keys: base key from the exporter, KID = (index << E) + epoch bits, derive_key_salt per KID', async () => {
  assert.equal(indexBits(1), 1);
  assert.equal(indexBits(2), 2); // group_size < 2^S
  assert.equal(indexBits(3), 2);
  assert.equal(indexBits(4), 3);
  // RFC 9605 §5.2 with context 0: epoch 5, index 3, group of 4 leaves (S = 3).
  const kid = makeKid(5, 3, 4);
  assert.equal(kid, (3 << EPOCH_BITS) + 5);
  assert.equal(kidIndex(kid, 4), 3);
  assert.equal(kidEpochBits(kid), 5);
  assert.equal(makeKid(2 ** EPOCH_BITS + 7, 1, 2), 2 ** EPOCH_BITS + 7, 'only the low E bits of the epoch');
  assert.equal(makeKid(5, 3, 4, 1), 2 ** (3 + EPOCH_BITS) + (3 << EPOCH_BITS) + 5, 'context above S + E bits');

  const groups = await room(['a', 'b']);
  const a = await groups.get('a').epochKeys();
  const b = await groups.get('b').epochKeys();
  // a's frame under a's KID opens at b; the SFrame key is RFC 9605's
  // derive_key_salt of the exported base key and that KID.
  const ringB = new EpochRing();
  ringB.add({ epoch: b.epoch, base: b.media, groupSize: b.groupSize, members: groups.get('b').members().map((m) => [m.leaf, m.id]) });
  const sendA = await SFrameKey.derive(a.media, makeKid(a.epoch, a.leaf, a.groupSize));
  const frame = await protectFrame(sendA, 0n, new Uint8Array([1, 2, 3, 4, 5]), 1);
  const parsed = parseFrame(frame);
  const entry = ringB.lookup(Number(parsed.kid));
  assert.equal(entry.peer, 'a');
  assert.equal(entry.leaf, 0);
  assert.deepEqual([...await unprotectFrame(await entry.key, frame, 1, parsed)], [1, 2, 3, 4, 5]);
  const raw = await deriveKeySaltRaw(b.media, makeKid(b.epoch, 0, b.groupSize));
  assert.ok(eq(raw.salt, sendA.salt));
  // Each sender its own key: a's frame does not open under b's.
  const keyB = await ringB.key(b.epoch, 1).key;
  await assert.rejects(unprotectFrame(keyB, frame, 1, parsed));
});

test('proofs: only the right secret, id, name and KeyPackage pass', async () => {
  const secret = crypto.getRandomValues(new Uint8Array(16));
  const key = await proofKey(secret, 'proof');
  const p = await person('p1', 'Ana');
  const q = await person('p2', 'Bo');
  const proof = await makeProof(key, p.kp.bytes, 'p1', 'Ana');
  assert.ok(await checkProof(key, proof, p.kp.bytes, 'p1', 'Ana'));
  assert.equal((await admit({ bytes: p.kp.bytes, from: 'p1', proof, key })).ok, true);
  const wrong = await proofKey(crypto.getRandomValues(new Uint8Array(16)), 'proof');
  assert.equal(await checkProof(wrong, proof, p.kp.bytes, 'p1', 'Ana'), false, 'wrong secret');
  assert.equal(await checkProof(key, proof, p.kp.bytes, 'p9', 'Ana'), false, 'wrong id');
  assert.equal(await checkProof(key, proof, p.kp.bytes, 'p1', 'Eve'), false, 'wrong name');
  assert.equal(await checkProof(key, proof, q.kp.bytes, 'p1', 'Ana'), false, 'swapped KeyPackage');
  assert.equal((await admit({ bytes: q.kp.bytes, from: 'p2', proof, key })).ok, false, 'a proof for another KeyPackage');
  assert.equal((await admit({ bytes: p.kp.bytes, from: 'p1', proof: null, key })).noProof, true, 'stripped proof');
  // The credential must name the sender the server stamped.
  const r = await admit({ bytes: p.kp.bytes, from: 'p2', proof, key });
  assert.equal(r.ok, false);
  assert.match(r.why, /not the sender/);
  // Without a room secret there is no proof to check, only the id.
  assert.equal((await admit({ bytes: p.kp.bytes, from: 'p1' })).ok, true);
  assert.equal((await admit({ bytes: enc.encode('junk'), from: 'p1' })).ok, false);
  // Welcome confirmation: only a group that knows the secret makes it.
  const wkey = await proofKey(secret, 'welcome');
  const auth = crypto.getRandomValues(new Uint8Array(32));
  const tag = await welcomeTag(wkey, auth);
  assert.ok(await checkWelcomeTag(wkey, tag, auth));
  assert.equal(await checkWelcomeTag(await proofKey(crypto.getRandomValues(new Uint8Array(16)), 'welcome'), tag, auth), false);
  assert.equal(await checkWelcomeTag(wkey, tag, crypto.getRandomValues(new Uint8Array(32))), false);
});

test('replay: frames of an epoch retired after a leave are refused', async () => {
  const groups = await room(['a', 'b', 'c']);
  const keysOf = async (id) => groups.get(id).epochKeys();
  const ring = new EpochRing();
  const install = async (id) => {
    const k = await keysOf(id);
    assert.ok(ring.add({ epoch: k.epoch, base: k.media, groupSize: k.groupSize, members: groups.get(id).members().map((m) => [m.leaf, m.id]) }));
    return k;
  };
  const k1 = await install('c');
  const a1 = await keysOf('a');
  const old = await protectFrame(await SFrameKey.derive(a1.media, makeKid(a1.epoch, 0, a1.groupSize)), 0n, new Uint8Array([9, 9]), 0);
  const first = ring.lookup(Number(parseFrame(old).kid));
  await unprotectFrame(await first.key, old, 0);
  assert.ok(ring.fresh(first, 0n));
  assert.equal(ring.fresh(first, 0n), false, 'the same counter twice');

  // b leaves: a new epoch; after the grace the old one is retired.
  const r = await groups.get('a').commit({ removes: [1] });
  groups.get('a').adopt(r.next);
  await groups.get('c').process(r.commit);
  const next = makeKid(k1.epoch + 1, 0, 3);
  assert.ok(ring.isNext(next), 'a frame of the epoch after ours is held for it');
  assert.equal(ring.isNext(makeKid(k1.epoch + 2, 0, 3)), false, 'two ahead: not held');
  assert.equal(ring.isNext(makeKid(k1.epoch, 0, 3)), false, 'ours: not held');
  // Failing under an epoch still on its way is join latency, not an alarm.
  assert.ok(ring.isAhead(next) && ring.isAhead(makeKid(k1.epoch + 2, 0, 3)), 'one and two ahead: early');
  assert.equal(ring.isAhead(makeKid(k1.epoch + 1 + AHEAD_EPOCHS, 0, 3)), false, 'far ahead: an alarm');
  assert.equal(ring.isAhead(makeKid(k1.epoch, 0, 3)), false, 'ours: not early');
  assert.ok(new EpochRing().isAhead(next), 'before any epoch, every frame is early');
  const k2 = await install('c');
  assert.equal(k2.epoch, k1.epoch + 1);
  assert.equal(ring.isNext(next), false, 'installed: nothing to wait for');
  assert.ok(ring.lookup(Number(parseFrame(old).kid)), 'still open during the grace');
  ring.retireBefore(k2.epoch);
  assert.equal(ring.lookup(Number(parseFrame(old).kid)), null, 'replayed after the grace: no key');
  assert.equal(ring.isAhead(Number(parseFrame(old).kid)), false, 'a retired epoch: not early, an alarm');
  assert.equal(ring.add({ epoch: k1.epoch, base: a1.media, groupSize: 3, members: [[0, 'a']] }), false, 'a retired epoch never comes back');
  // A KID of a leaf that is not a member opens nothing.
  assert.equal(ring.lookup(makeKid(k2.epoch, 1, k2.groupSize)), null);
  assert.equal(roomCode(new Uint8Array(32)), '00000 00000 00000 00000 00000');
});

/**
 * FakeDS orders handshake messages as signaling/mls.go does: a commit for
 * the current epoch wins and goes to everyone (its sender too), in order;
 * any other is refused with the current epoch.
 */
class FakeDS {
  constructor() {
    this.epoch = 0;
    this.log = [];
  }

  commit(epoch, commit, welcome) {
    if (epoch !== this.epoch) return { stale: this.epoch };
    this.epoch++;
    this.log.push({ commit, welcome });
    return { ok: true };
  }
}

test('a join while a commit is in flight converges (DS orders commits per epoch)', async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => person(id)));
  const ds = new FakeDS();
  const ga = await Group.create(cs, a.kp, enc.encode('room'));
  // a adds b; the commit is sent but not yet back.
  const add1 = await ga.commit({ adds: [readKeyPackage(b.kp.bytes).keyPackage] });
  assert.ok(ds.commit(ga.epoch, add1.commit, add1.welcome).ok);
  // Meanwhile c's KeyPackage arrives and a commits it for the same epoch:
  // the DS refuses, naming the epoch to catch up on.
  const add2 = await ga.commit({ adds: [readKeyPackage(c.kp.bytes).keyPackage] });
  assert.deepEqual(ds.commit(ga.epoch, add2.commit, add2.welcome), { stale: 1 });
  // a's first commit comes back: a merges it, then retries c on top.
  ga.adopt(add1.next);
  const gb = await Group.join(cs, b.kp, ds.log[0].welcome);
  const retry = await ga.commit({ adds: [readKeyPackage(c.kp.bytes).keyPackage] });
  assert.ok(ds.commit(ga.epoch, retry.commit, retry.welcome).ok);
  ga.adopt(retry.next);
  await gb.process(ds.log[1].commit);
  const gc = await Group.join(cs, c.kp, ds.log[1].welcome);
  const codes = await Promise.all([ga, gb, gc].map(async (g) => (await g.epochKeys()).code));
  assert.equal(new Set(codes).size, 1);
  assert.equal(ga.epoch, 2);
  // The refused commit never applies: it belongs to an epoch that is gone.
  await assert.rejects(gb.process(add2.commit), MlsInputError);
});
