// The E2EE controller (e2ee.js) over a fake Delivery Service that behaves
// as signaling/mls.go does (create once, KeyPackages to the others, the
// first commit for an epoch wins and goes to everyone, its Welcome after
// it, mls-stale for the rest, peer-joined and peer-left). Node has
// WebCrypto; the encoded-transform worker is a stub, since these tests
// look at membership, names, room codes and sealed data.
import { test } from 'node:test';
import assert from 'node:assert/strict';

globalThis.RTCRtpScriptTransform ??= function RTCRtpScriptTransform() {};
globalThis.Worker ??= class {
  postMessage() {}
  addEventListener() {}
  terminate() {}
};
const { E2EE } = await import('./e2ee.js');
const { GRACE_MS } = await import('./epochs.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);

/** FakeDS is the room and its MLS Delivery Service, delivering in order. */
class FakeDS {
  constructor() {
    this.nodes = new Map();
    this.group = false;
    this.epoch = 0;
    /** who holds the group: its creator, committers and the welcomed (commits from others are refused) */
    this.holders = new Set();
    this.log = [];
    /** tamper(from, msg) → msg to relay, or null to drop (a hostile server) */
    this.tamper = (from, msg) => msg;
    /** id → {in, out}: queues of what a slow link has not delivered yet (hold) */
    this.held = new Map();
  }

  /** hold stops everything to and from id, in order, until release (a slow link). */
  hold(id) {
    this.held.set(id, { in: [], out: [], holdIn: true, holdOut: true });
  }

  /** release delivers what was held one way ('out': from id to the DS; 'in': to id) and stops holding it. */
  release(id, way) {
    const h = this.held.get(id);
    if (way === 'out') {
      h.holdOut = false;
      for (const m of h.out.splice(0)) this.onMls(id, m);
    } else {
      h.holdIn = false;
      for (const fn of h.in.splice(0)) fn(this.nodes.get(id));
    }
  }

  /** deliver hands a node something from the DS, or queues it while its link is held. */
  deliver(id, fn) {
    const h = this.held.get(id);
    if (h?.holdIn) h.in.push(fn);
    else if (this.nodes.has(id)) fn(this.nodes.get(id));
  }

  join(id, { secret = null, name = id.toUpperCase(), joinWaitMs = 50 } = {}) {
    const node = new E2EE({ secret, signaling: { mls: (m) => this.onMls(id, m) }, joinWaitMs, settleMs: 50 });
    const peers = [...this.nodes.keys()];
    this.nodes.set(id, node);
    node.start(id, { group: this.group, epoch: this.epoch }, peers, name);
    for (const [other, n] of this.nodes) if (other !== id) n.peerJoined(id);
    return node;
  }

  leave(id) {
    this.nodes.get(id).close();
    this.nodes.delete(id);
    for (const n of this.nodes.values()) n.peerLeft(id);
  }

  onMls(from, m) {
    if (this.held.get(from)?.holdOut) {
      this.held.get(from).out.push(m);
      return undefined;
    }
    this.log.push({ from, ...m });
    const to = (id, msg) => this.deliver(id, (n) => n.onMls(msg));
    const others = (msg) => { for (const id of this.nodes.keys()) if (id !== from) to(id, msg); };
    const refuse = (err) => this.deliver(from, (n) => n.onError({ code: 'mls-stale', ref: 'mls', current: this.epoch, group: this.group, ...err }));
    if (m.kind === 'create') {
      if (this.group) return refuse({ of: 'create' });
      this.group = true;
      this.epoch = 0;
      this.holders = new Set([from]);
      const msg = this.tamper(from, { type: 'mls', kind: 'created', from, epoch: 0 });
      return msg && others(msg);
    }
    if (m.kind === 'kp') {
      const msg = this.tamper(from, { type: 'mls', kind: 'kp', from, data: m.data, proof: m.proof });
      if (msg) others(msg);
      return undefined;
    }
    if (m.kind === 'commit') {
      if (!this.group || m.epoch !== this.epoch || !this.holders.has(from)) return refuse({ of: 'commit', epoch: m.epoch });
      this.epoch++;
      this.holders.add(from);
      for (const id of this.nodes.keys()) to(id, { type: 'mls', kind: 'commit', from, epoch: m.epoch, data: m.data });
      if (m.welcome) {
        for (const id of m.welcome.to) {
          this.holders.add(id);
          to(id, { type: 'mls', kind: 'welcome', from, epoch: this.epoch, data: m.welcome.data, tag: m.welcome.tag });
        }
      }
    }
    return undefined;
  }

  async settle(rounds = 8) {
    for (let i = 0; i < rounds; i++) {
      await sleep(20);
      await Promise.all([...this.nodes.values()].map((n) => n.chain));
    }
  }

  close() {
    for (const n of this.nodes.values()) n.close();
  }
}

const secret = () => crypto.getRandomValues(new Uint8Array(16));

test('three participants with the invite secret: one group, verified, one room code, names from credentials', async () => {
  const ds = new FakeDS();
  const k = secret();
  try {
    const a = ds.join('a', { secret: k });
    await ds.settle();
    const b = ds.join('b', { secret: k });
    const c = ds.join('c', { secret: k }); // joins while b's add is in flight
    await ds.settle(20);
    for (const n of [a, b, c]) {
      assert.equal(n.info().member, true);
      assert.equal(n.info().epoch, 2);
    }
    assert.equal(new Set([a, b, c].map((n) => n.info().roomCode)).size, 1);
    assert.match(a.info().roomCode, /^(\d{5} ){4}\d{5}$/);
    assert.equal(a.peerInfo('b').state, 'verified');
    assert.equal(c.peerInfo('a').name, 'A');
    assert.equal(b.peerInfo('c').code, a.info().roomCode);
    // Sealed data: opens only as from its real sender.
    const m = await b.sealData(enc('hello'));
    assert.equal(dec(await a.openData('b', m)), 'hello');
    assert.equal(dec(await c.openData('b', m)), 'hello');
    await assert.rejects(a.openData('c', m), /no key of c/);
    await assert.rejects(a.openData('b', m), /replayed/);
  } finally {
    ds.close();
  }
});

test('a message sealed in the epoch that adds us waits for our Welcome, not dropped', async () => {
  const ds = new FakeDS();
  const k = secret();
  try {
    const a = ds.join('a', { secret: k });
    await ds.settle();
    const b = ds.join('b', { secret: k });
    await ds.settle(20);
    const c = ds.join('c', { secret: k, joinWaitMs: 5000 });
    ds.hold('c');
    ds.release('c', 'out'); // its KeyPackage goes out; what comes to it waits (a slow link)
    await ds.settle(20);
    assert.equal(a.info().epoch, 2);
    assert.equal(c.info().member, false);
    const m = await a.sealData(enc('welcome, c'));
    const opened = c.openData('a', m);
    await sleep(100);
    ds.release('c', 'in'); // the Welcome arrives after the message
    assert.equal(dec(await opened), 'welcome, c');
  } finally {
    ds.close();
  }
});

test('a KeyPackage without a valid proof is never added; everyone shows it refused', async () => {
  const ds = new FakeDS();
  const k = secret();
  try {
    const a = ds.join('a', { secret: k });
    const b = ds.join('b', { secret: k });
    await ds.settle(20);
    const c = ds.join('c'); // a link without the secret
    // The server strips a proof too: d has the secret, its proof never arrives.
    ds.tamper = (from, msg) => (from === 'd' ? { ...msg, proof: undefined } : msg);
    const d = ds.join('d', { secret: k });
    await ds.settle(20);
    for (const n of [a, b]) {
      assert.equal(n.info().epoch, 1, 'no commit adds c or d');
      assert.equal(n.peerInfo('c').state, 'refused');
      assert.equal(n.peerInfo('d').state, 'refused');
      assert.match(n.peerInfo('c').refused, /invite link/);
    }
    assert.equal(c.info().member, false);
    assert.equal(d.info().member, false);
    assert.equal(ds.log.filter((e) => e.kind === 'commit' && e.welcome?.to.some((id) => id === 'c' || id === 'd')).length, 0);
    await assert.rejects(c.sealData(enc('x')), /not in the group/);
  } finally {
    ds.close();
  }
});

test('a KeyPackage whose credential names another participant is refused', async () => {
  const ds = new FakeDS();
  try {
    const a = ds.join('a');
    await ds.settle();
    // The server relays b's KeyPackage as if c had sent it, and drops c's own.
    ds.tamper = (from, msg) => (from === 'b' ? { ...msg, from: 'c' } : from === 'c' ? null : msg);
    ds.join('b');
    ds.join('c');
    await ds.settle(20);
    assert.equal(a.peerInfo('c').state, 'refused');
    assert.match(a.peerInfo('c').refused, /not the sender/);
    assert.equal(a.info().epoch, 0, 'nobody added');
  } finally {
    ds.close();
  }
});

test('a newcomer with the secret refuses a group that does not know it', async () => {
  const ds = new FakeDS();
  try {
    const a = ds.join('a'); // the server's own group, say: no secret
    await ds.settle();
    const problems = [];
    const b = ds.join('b', { secret: secret() });
    b.addEventListener('problem', (e) => problems.push(e.detail.text));
    await ds.settle(20);
    assert.equal(b.info().member, false);
    assert.equal(problems.length > 0, true);
    assert.equal(a.info().epoch, 1, 'a added b (it cannot check a proof), b refused the welcome');
  } finally {
    ds.close();
  }
});

test('rooms without a secret: members unverified, one room code, a leave changes it and retires the old epoch', async () => {
  const ds = new FakeDS();
  try {
    const a = ds.join('a');
    await ds.settle();
    const b = ds.join('b');
    await ds.settle();
    const c = ds.join('c');
    await ds.settle(20);
    assert.equal(a.peerInfo('b').state, 'unverified');
    const code = a.info().roomCode;
    assert.equal(c.info().roomCode, code);
    const before = await a.sealData(enc('before the leave'));
    assert.equal(dec(await c.openData('a', before)), 'before the leave');
    // The committer (a, leaf 0) leaves: b takes over and removes it.
    ds.leave('a');
    await ds.settle(20);
    assert.equal(b.info().epoch, 3);
    assert.equal(b.info().roomCode, c.info().roomCode);
    assert.notEqual(b.info().roomCode, code);
    assert.deepEqual(b.info().members.map((m) => m.id), ['b', 'c']);
    await sleep(GRACE_MS + 100);
    // What a sent before it left, replayed after the grace: no key.
    await assert.rejects(c.openData('a', before), /no key/);
  } finally {
    ds.close();
  }
});

test('two participants create at once: one group wins, the other joins it', async () => {
  const ds = new FakeDS();
  try {
    // Both welcomes said "no group".
    const a = new E2EE({ secret: null, signaling: { mls: (m) => ds.onMls('a', m) } });
    const b = new E2EE({ secret: null, signaling: { mls: (m) => ds.onMls('b', m) } });
    ds.nodes.set('a', a);
    ds.nodes.set('b', b);
    a.start('a', { group: false }, ['b'], 'A');
    b.start('b', { group: false }, ['a'], 'B');
    await ds.settle(20);
    assert.equal(a.info().member && b.info().member, true);
    assert.equal(a.info().roomCode, b.info().roomCode);
  } finally {
    ds.close();
  }
});

/**
 * createRace makes the start of a room whose members all arrive at once
 * (its node died and they re-join a survivor, docs/cluster.md): x and y
 * both welcomed with "no group", y's link slow, so y's create reaches the
 * DS after x's, and y hears of x's group only after z's KeyPackage. Then
 * y's link delivers, to the DS first (its create is refused), then to y.
 */
async function createRace(ds) {
  const x = new E2EE({ secret: null, signaling: { mls: (m) => ds.onMls('x', m) } });
  const y = new E2EE({ secret: null, signaling: { mls: (m) => ds.onMls('y', m) } });
  ds.nodes.set('x', x);
  ds.nodes.set('y', y);
  ds.hold('y');
  x.start('x', { group: false }, ['y'], 'X');
  y.start('y', { group: false }, ['x'], 'Y');
  await ds.settle(20);
  assert.equal(ds.holders.has('x'), true, "x's create won");
  assert.equal(y.creating, true, 'y made a group of its own');
  const z = ds.join('z');
  await ds.settle(20);
  assert.equal(z.info().member, true, 'x added z');
  ds.release('y', 'out');
  ds.release('y', 'in');
  await ds.settle(30);
  return [x, y, z];
}

test('a whole room re-joins at once: a create that lost after KeyPackages came does not leave anyone behind', async () => {
  const ds = new FakeDS();
  try {
    const [x, y, z] = await createRace(ds);
    for (const n of [x, y, z]) {
      assert.equal(n.info().member, true);
      assert.equal(n.info().epoch, 2);
    }
    assert.equal(new Set([x, y, z].map((n) => n.info().roomCode)).size, 1, 'one group');
    assert.equal(ds.log.filter((e) => e.from === 'y' && e.kind === 'commit').length, 0, 'y committed nothing in its own group');
  } finally {
    ds.close();
  }
});

test('a create that lost, told only by its refusal, drops its own group even with a commit in flight in it', async () => {
  const ds = new FakeDS();
  // The `created` never reaches y (lost, or a server that says nothing):
  // y commits z's add in its own group, and then learns from the refusal.
  ds.tamper = (from, msg) => (msg.kind === 'created' ? null : msg);
  try {
    const [x, y, z] = await createRace(ds);
    assert.ok(ds.log.some((e) => e.from === 'y' && e.kind === 'commit'), "y's orphan commit reached the DS, which refused it");
    for (const n of [x, y, z]) assert.equal(n.info().member, true);
    assert.equal(new Set([x, y, z].map((n) => n.info().epoch)).size, 1, 'one epoch');
    assert.equal(new Set([x, y, z].map((n) => n.info().roomCode)).size, 1, 'one group');
  } finally {
    ds.close();
  }
});

/** replayTo sends one node again what the server relayed before: a participant's peer-joined and KeyPackage. */
function replayTo(node, ds, id) {
  const kp = ds.log.find((e) => e.from === id && e.kind === 'kp');
  assert.ok(kp, `a KeyPackage of ${id} to replay`);
  node.peerJoined(id);
  node.onMls({ type: 'mls', kind: 'kp', from: id, data: kp.data, proof: kp.proof });
}

test('after a leave, a replayed peer-joined and KeyPackage (with its valid proof) add nobody', async () => {
  const ds = new FakeDS();
  const k = secret();
  try {
    const a = ds.join('a', { secret: k });
    await ds.settle();
    ds.join('b', { secret: k });
    await ds.settle(20);
    const c = ds.join('c', { secret: k });
    await ds.settle(20);
    assert.equal(a.info().members.length, 3);
    ds.leave('b');
    await ds.settle(20);
    const after = a.info();
    assert.deepEqual(after.members.map((m) => m.id), ['a', 'c']);
    const problems = [];
    a.addEventListener('problem', (e) => problems.push(e.detail.text));
    replayTo(a, ds, 'b');
    await ds.settle(20);
    assert.equal(a.info().epoch, after.epoch, 'no commit re-adds b');
    assert.deepEqual(a.info().members.map((m) => m.id), ['a', 'c']);
    assert.equal(c.info().roomCode, a.info().roomCode);
    assert.equal(ds.log.filter((e) => e.kind === 'commit').length, 3, 'b in, c in, b out: nothing more');
    assert.ok(problems.some((t) => /replayed/.test(t)), 'a shows the replay');
  } finally {
    ds.close();
  }
});

/** lateCommitter: a, b, c join; b leaves, then a: c is alone; d joins (leaf 0, the committer) and never saw b. */
async function lateCommitter(ds) {
  ds.join('a');
  await ds.settle();
  ds.join('b');
  await ds.settle(20);
  const c = ds.join('c');
  await ds.settle(20);
  ds.leave('b'); // a removes b
  await ds.settle(20);
  ds.leave('a'); // c removes a, alone now
  await ds.settle(20);
  const d = ds.join('d');
  await ds.settle(20);
  assert.equal(d.info().leaf, 0);
  return { c, d };
}

test('a replayed KeyPackage offered to a committer who joined after it was used: the group\'s spent list refuses it', async () => {
  const ds = new FakeDS();
  try {
    const { c, d } = await lateCommitter(ds);
    const epoch = d.info().epoch;
    const problems = [];
    d.addEventListener('problem', (e) => problems.push(e.detail.text));
    replayTo(d, ds, 'b'); // d has no history of b; the group has (SPENT_EXTENSION)
    await ds.settle(20);
    assert.equal(d.info().epoch, epoch, 'no commit re-adds b');
    assert.deepEqual(d.info().members.map((m) => m.id).sort(), ['c', 'd']);
    assert.equal(c.info().roomCode, d.info().roomCode);
    assert.ok(problems.some((t) => /replayed/.test(t)), 'd shows the replay');
  } finally {
    ds.close();
  }
});

test('a used KeyPackage re-added by a dishonest member (ignoring the spent list): same epoch for all, shown refused, never silent', async () => {
  const ds = new FakeDS();
  try {
    const { c, d } = await lateCommitter(ds);
    d.group.spent = () => false; // d ignores the group's spent list
    const problems = [];
    c.addEventListener('problem', (e) => problems.push(e.detail.text));
    replayTo(d, ds, 'b');
    await ds.settle(20);
    assert.equal(c.info().epoch, d.info().epoch, 'c applied the commit the DS ordered: no split');
    assert.equal(c.info().roomCode, d.info().roomCode);
    assert.ok(c.info().members.some((m) => m.id === 'b'), 'd did re-add b');
    assert.equal(c.peerInfo('b').state, 'refused');
    assert.equal(c.peerInfo('b').gotKey, false);
    assert.ok(problems.some((t) => /already used/.test(t)), 'c shows the re-add');
  } finally {
    ds.close();
  }
});

test('a late refusal names the commit it is about: one for a commit we no longer hold changes nothing', async () => {
  const ds = new FakeDS();
  try {
    const a = ds.join('a');
    await ds.settle();
    ds.join('b');
    await ds.settle(20);
    const held = { epoch: a.info().epoch, data: 'x', next: null, at: Date.now() };
    a.inFlight = held;
    a.onError({ code: 'mls-stale', ref: 'mls', of: 'commit', epoch: held.epoch - 1, current: held.epoch, group: true });
    await a.chain;
    assert.equal(a.inFlight, held, 'a refusal of an earlier commit leaves the one in flight');
    a.onError({ code: 'mls-stale', ref: 'mls', of: 'create', current: held.epoch, group: true });
    await a.chain;
    assert.equal(a.inFlight, held, 'a refusal of a create is not about a commit');
    a.onError({ code: 'mls-stale', ref: 'mls', of: 'commit', epoch: held.epoch, current: held.epoch + 1, group: true });
    await a.chain;
    assert.equal(a.inFlight, null, 'the refusal of the commit in flight lets it go');
  } finally {
    ds.close();
  }
});

test('a KeyPackage ts-mls refuses at commit (no spent-list capability) does not block the removals or later adds', async () => {
  const { generateKeyPackage, defaultCapabilities, encodeMlsMessage } = await import('../vendor/node_modules/ts-mls/dist/src/index.js');
  const { cipherSuite, encodeIdentity } = await import('./mls.js');
  const ds = new FakeDS();
  try {
    const a = ds.join('a');
    await ds.settle();
    ds.join('b');
    await ds.settle(20);
    const epoch = a.info().epoch;
    // x's KeyPackage lacks SPENT_EXTENSION in its capabilities (an old client, or forged).
    const cs = await cipherSuite();
    const now = BigInt(Math.floor(Date.now() / 1000));
    const kp = await generateKeyPackage({ credentialType: 'basic', identity: encodeIdentity({ id: 'x', name: 'X' }) },
      defaultCapabilities(), { notBefore: now - 60n, notAfter: now + 300n }, [], cs);
    const bytes = encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
    a.peerJoined('x');
    a.onMls({ type: 'mls', kind: 'kp', from: 'x', data: Buffer.from(bytes).toString('base64url') });
    await ds.settle(20);
    assert.equal(a.info().epoch, epoch, 'x was not added');
    ds.leave('b');
    await ds.settle(20);
    assert.deepEqual(a.info().members.map((m) => m.id), ['a'], 'the removal went through');
    const c = ds.join('c');
    await ds.settle(20);
    assert.deepEqual(c.info().members.map((m) => m.id).sort(), ['a', 'c'], 'a later add went through');
  } finally {
    ds.close();
  }
});
