// @ts-check
// The message layer (docs/datachannels.md): typed envelopes (envelope.js)
// over data channels, peer to peer on every mesh link and through the SFU
// link, chosen per remote participant the way their media is.
//
// Three channels per transport, by delivery need:
//   parley/ctl   reliable, ordered         chat, reactions, hand, file control
//   parley/ptr   unordered, no retransmits pointer moves
//   parley/file  reliable, ordered         file chunks (back-pressured)
// On a mesh link they are pre-negotiated (`negotiated: true`, fixed ids),
// made before the first offer or answer carries the data section; on the
// SFU link they are ours (in-band, made with the pre-flight's channel) and
// the SFU also opens same-labelled ones to reach us (sfu/datachannel.go):
// we listen on both.
//
// Path per message: toward participant X, the path X's tiles show
// (switch.js: on.camera, else the room's target), if that channel is open;
// otherwise the other path if it is; otherwise the message waits for one to
// open (ctl, file: up to OPEN_WAIT_MS) or is dropped (pointer). A message
// for everyone goes once through the SFU when everybody is reached that
// way, otherwise as one copy per participant. So messages keep flowing
// across a mesh ⇄ SFU switch; files handle the change themselves
// (filechunks.js). A message is never sent on both paths.
//
// Ordering: each channel has one send chain (sealing is async) and one
// receive chain, so an ordered channel stays ordered end to end.
//
// One owner: this object owns the channel maps; mesh.js and sfu.js only
// announce their connections (attachMesh, attachSfu).

import { encode, decode, identitySealer } from './envelope.js';

/** Channel labels (the SFU routes every "parley/" label by the envelope's clear header). */
export const LABELS = Object.freeze({ ctl: 'parley/ctl', ptr: 'parley/ptr', file: 'parley/file' });
const OPTIONS = {
  ctl: { ordered: true },
  ptr: { ordered: false, maxRetransmits: 0 },
  file: { ordered: true },
};
/** Stream ids of the pre-negotiated mesh channels (the pre-flight's 'parley' channel is not on mesh links). */
const MESH_IDS = { ctl: 10, ptr: 11, file: 12 };
/** Which channel each message type travels on. */
export const KIND_OF = Object.freeze({
  chat: 'ctl', react: 'ctl', hand: 'ctl',
  'file-offer': 'ctl', 'file-accept': 'ctl', 'file-decline': 'ctl', 'file-cancel': 'ctl', 'file-ack': 'ctl',
  ink: 'ctl',
  ptr: 'ptr', 'ptr-off': 'ptr',
  'file-chunk': 'file', 'file-end': 'file',
});
/** How long a reliable message waits for a channel to open before it is dropped. */
export const OPEN_WAIT_MS = 15000;
/** Above this many queued bytes a sender waits for `bufferedamountlow`. */
export const HIGH_WATER = 1024 * 1024;
/** bufferedAmountLowThreshold: sending resumes below this. */
export const LOW_WATER = 256 * 1024;
/** Pointer moves are dropped while more than this is queued (they are stale anyway). */
const PTR_DROP = 64 * 1024;

const isOpen = (dc) => !!dc && dc.readyState === 'open';

export class Channels extends EventTarget {
  /**
   * @param {{sealer?: {seal(b: Uint8Array): Promise<Uint8Array>, open(id: string, b: Uint8Array): Promise<Uint8Array>},
   *          pathOf?: (peerId: string) => 'mesh'|'sfu',
   *          peers?: () => string[],
   *          mode?: () => 'mesh'|'sfu'}} o
   *   pathOf: where participant X's media is (call.js pathOf);
   *   peers: the remote participants now in the room.
   */
  constructor({ sealer = identitySealer, pathOf = () => 'mesh', peers = () => [], mode = () => 'mesh' } = {}) {
    super();
    this.sealer = sealer;
    this.pathOf = pathOf;
    this.peers = peers;
    this.mode = mode;
    this.selfId = '';
    /** @type {Map<string, Record<string, RTCDataChannel>>} mesh channels per participant */
    this.mesh = new Map();
    /** @type {RTCPeerConnection|null} */
    this.sfuPc = null;
    /** @type {Record<string, RTCDataChannel|null>} our own SFU channels (we send on these) */
    this.sfuOwn = { ctl: null, ptr: null, file: null };
    /** @type {Record<string, Set<RTCDataChannel>>} every open SFU channel by kind (ours and the SFU's) */
    this.sfuAll = { ctl: new Set(), ptr: new Set(), file: new Set() };
    /** send chains per channel (sealing is async; order must hold) */
    this.chains = new WeakMap();
    /** resolvers waiting for any channel to open */
    this.waiters = new Set();
    /** counters for tests and the debug view */
    this.stats = { sent: 0, received: 0, dropped: 0, mesh: 0, sfu: 0 };
  }

  /** setSelf records our participant id (from `welcome`). */
  setSelf(id) {
    this.selfId = id;
  }

  /**
   * attachMesh makes the pre-negotiated channels on a mesh link. mesh.js
   * calls it (event `peer-channels`) before its first offer, or right after
   * applying a first offer that has a data section.
   */
  attachMesh(peerId, pc) {
    /** @type {Record<string, RTCDataChannel>} */
    const set = {};
    for (const kind of Object.keys(LABELS)) {
      const dc = pc.createDataChannel(LABELS[kind], { ...OPTIONS[kind], negotiated: true, id: MESH_IDS[kind] });
      this.listen(dc, kind, { mesh: peerId });
      set[kind] = dc;
    }
    const old = this.mesh.get(peerId);
    this.mesh.set(peerId, set);
    if (old) for (const dc of Object.values(old)) if (dc.readyState !== 'closed') dc.close();
  }

  /** attachSfu opens our channels on the SFU link and listens to the SFU's. */
  attachSfu(pc) {
    this.sfuPc = pc;
    this.sfuOwn = { ctl: null, ptr: null, file: null };
    this.sfuAll = { ctl: new Set(), ptr: new Set(), file: new Set() };
    pc.addEventListener('datachannel', ({ channel }) => {
      const kind = Object.keys(LABELS).find((k) => LABELS[k] === channel.label);
      if (kind && this.sfuPc === pc) this.listen(channel, kind, { sfu: pc });
    });
    for (const kind of Object.keys(LABELS)) this.ownSfu(kind);
  }

  /** ownSfu returns our channel of a kind on the SFU link, opening a new one if the SFU closed ours. */
  ownSfu(kind) {
    const pc = this.sfuPc;
    if (!pc || pc.signalingState === 'closed') return null;
    let dc = this.sfuOwn[kind];
    if (dc && (dc.readyState === 'open' || dc.readyState === 'connecting')) return dc;
    try {
      dc = pc.createDataChannel(LABELS[kind], OPTIONS[kind]);
    } catch (err) {
      console.warn('parley: data channel', LABELS[kind], err);
      return null;
    }
    this.sfuOwn[kind] = dc;
    this.listen(dc, kind, { sfu: pc });
    return dc;
  }

  /** listen wires one channel's events. */
  listen(dc, kind, where) {
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    let rx = Promise.resolve();
    dc.addEventListener('open', () => {
      if (where.sfu) this.sfuAll[kind].add(dc);
      for (const w of [...this.waiters]) w();
      this.fire('open', { kind, peerId: where.mesh ?? null, via: where.mesh ? 'mesh' : 'sfu' });
    });
    dc.addEventListener('close', () => {
      if (where.sfu) {
        this.sfuAll[kind].delete(dc);
        if (this.sfuOwn[kind] === dc) this.sfuOwn[kind] = null;
      }
      const set = where.mesh && this.mesh.get(where.mesh);
      if (set && set[kind] === dc && Object.values(set).every((d) => d.readyState === 'closed')) {
        this.mesh.delete(where.mesh); // the link is gone: keep no closed channels for the rest of the call
      }
      this.fire('close', { kind, peerId: where.mesh ?? null, via: where.mesh ? 'mesh' : 'sfu' });
    });
    dc.addEventListener('message', ({ data }) => {
      rx = rx.then(async () => {
        const m = await decode(data, this.sealer, { self: this.selfId, from: where.mesh });
        if (!m) {
          this.stats.dropped++;
          return;
        }
        this.stats.received++;
        m.via = where.mesh ? 'mesh' : 'sfu';
        this.stats[m.via]++;
        this.fire(m.type, m);
        this.fire('message', m);
      }).catch((err) => console.warn('parley: data-channel handler:', err));
    });
    if (dc.readyState === 'open' && where.sfu) this.sfuAll[kind].add(dc);
  }

  /** meshChannel returns the open mesh channel of a kind to a participant. */
  meshChannel(peerId, kind) {
    const dc = this.mesh.get(peerId)?.[kind];
    return isOpen(dc) ? dc : null;
  }

  /** sfuChannel returns an open SFU channel of a kind (ours first). */
  sfuChannel(kind) {
    const own = this.ownSfu(kind);
    if (isOpen(own)) return own;
    for (const dc of this.sfuAll[kind]) if (isOpen(dc)) return dc;
    return null;
  }

  /**
   * pick chooses the channel toward one participant: the path their media
   * is on if open, else the other one. Returns {dc, via} or null.
   */
  pick(peerId, kind) {
    const mesh = this.meshChannel(peerId, kind);
    const sfu = this.sfuChannel(kind);
    const prefer = this.pathOf(peerId) === 'sfu' ? ['sfu', 'mesh'] : ['mesh', 'sfu'];
    for (const via of prefer) {
      const dc = via === 'mesh' ? mesh : sfu;
      if (dc) return { dc, via };
    }
    return null;
  }

  /**
   * route names the channel a message to peerId of a kind would take now
   * (files rewind when it changes).
   */
  route(peerId, kind = 'file') {
    return this.pick(peerId, kind)?.dc ?? null;
  }

  /** waitPick waits until a channel toward peerId is open (null after ms). */
  async waitPick(peerId, kind, ms = OPEN_WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const p = this.pick(peerId, kind);
      if (p) return p;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 1000));
        this.waiters.add(done);
      });
    }
  }

  /**
   * send delivers one message. to '' is everyone in the room. Resolves
   * when the message is queued on its channel(s) (after back-pressure for
   * reliable kinds); a message that cannot be delivered is dropped with a
   * warning (reliable kinds reject, so files can fail visibly).
   * @param {string} type @param {object} payload
   * @param {{to?: string, data?: Uint8Array}} [o]
   */
  async send(type, payload, { to = '', data = null } = {}) {
    const kind = KIND_OF[type];
    if (!kind) throw new Error(`channels: unknown type ${type}`);
    if (!this.selfId) throw new Error('channels: not in a call');
    if (to) return this.sendTo(to, kind, { type, payload, data, to });
    const peers = this.peers();
    if (!peers.length) return undefined;
    const sfu = this.sfuChannel(kind);
    if (sfu && this.mode() === 'sfu' && peers.every((id) => this.pathOf(id) === 'sfu')) {
      // Everyone is behind the SFU: one message, the SFU copies it.
      return this.write(sfu, kind, { type, payload, data, to: '' });
    }
    const results = await Promise.allSettled(peers.map((id) => this.sendTo(id, kind, { type, payload, data, to: '' })));
    const bad = results.find((r) => r.status === 'rejected');
    if (bad && kind !== 'ptr') throw bad.reason;
    return undefined;
  }

  /** sendTo sends one copy toward one participant. `to` is the envelope's addressee. */
  async sendTo(peerId, kind, m) {
    let p = this.pick(peerId, kind);
    if (!p && kind !== 'ptr') p = await this.waitPick(peerId, kind);
    if (!p) {
      this.stats.dropped++;
      if (kind === 'ptr') return undefined;
      throw new Error(`no data channel to ${peerId}`);
    }
    // Through the SFU a copy meant for one participant must say so (routing).
    const to = p.via === 'sfu' ? peerId : m.to;
    return this.write(p.dc, kind, { ...m, to });
  }

  /** write seals and sends on one channel, in order, with back-pressure. */
  write(dc, kind, { type, payload, data, to }) {
    const prev = this.chains.get(dc) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(async () => {
      if (kind === 'ptr' && dc.bufferedAmount > PTR_DROP) {
        this.stats.dropped++;
        return;
      }
      const bytes = await encode({ from: this.selfId, to, type, payload, data }, this.sealer);
      if (kind !== 'ptr') await drained(dc);
      if (dc.readyState !== 'open') {
        this.stats.dropped++;
        if (kind === 'ptr') return;
        throw new Error(`the ${dc.label} channel closed`);
      }
      dc.send(bytes);
      this.stats.sent++;
    });
    this.chains.set(dc, next);
    return next;
  }

  /** close forgets every channel (the call ended). */
  close() {
    for (const set of this.mesh.values()) for (const dc of Object.values(set)) dc.close();
    this.mesh.clear();
    this.sfuPc = null;
    for (const w of [...this.waiters]) w();
  }

  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** drained waits until a channel's queue is below HIGH_WATER (or it closed). */
function drained(dc) {
  if (dc.bufferedAmount <= HIGH_WATER || dc.readyState !== 'open') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      dc.removeEventListener('bufferedamountlow', done);
      dc.removeEventListener('close', done);
      resolve();
    };
    dc.addEventListener('bufferedamountlow', done);
    dc.addEventListener('close', done);
  });
}
