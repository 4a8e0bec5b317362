// @ts-check
// The signaling client: one WebSocket to /ws speaking docs/protocol.md v1.
//
// It joins the room when the socket opens and re-joins after every
// reconnection (with exponential back-off and jitter). The server gives a
// new participant id on each join, so listeners must treat every `welcome`
// as a fresh start.
//
// Events (all CustomEvents; `detail` is the server message unless noted):
//   welcome, peer-joined, peer-left, peer-away, peer-back, signal, key,
//   mode, muted, error, server-shutdown, mls
//   status   detail: {status: 'connecting'|'open'|'reconnecting'|'closed',
//                     attempt?, delay?, reason?}

import { backoffDelay } from './backoff.js';

/** The close code the server gives a connection another one resumed (docs/protocol.md). */
export const CLOSE_TAKEN_OVER = 4000;

export const PROTOCOL_VERSION = 1;

/** Server message types this client understands. */
const SERVER_TYPES = new Set([
  'welcome', 'peer-joined', 'peer-left', 'peer-away', 'peer-back', 'signal', 'key', 'mode', 'muted', 'error',
  'server-shutdown', 'mls',
  'e2ee', // the room's end-to-end encryption changed (roomcrypto.js)
]);

/**
 * How many signal/key messages wait while the socket is down, to be sent if
 * the server resumes us (docs/protocol.md "Reconnecting"). Past it the
 * oldest are dropped: the server would have dropped us by then anyway.
 */
const MAX_PENDING = 256;

/** How long a connection attempt may take before it is abandoned. */
const CONNECT_TIMEOUT_MS = 10000;

/** joinMessage is the `join` a client sends, credentials only when set. */
export function joinMessage({ room, name, password = '', token = '', resume = '' }) {
  const msg = { type: 'join', v: PROTOCOL_VERSION, room, name };
  if (password) msg.password = password;
  if (token) msg.token = token;
  if (resume) msg.resume = resume;
  return msg;
}

/** wsURL returns the signaling endpoint of the server that served the page. */
export function wsURL(loc = globalThis.location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

export class Signaling extends EventTarget {
  /**
   * password and token are the join's credentials (docs/access.md): sent in
   * every join, re-joins included, and never logged.
   * @param {{url: string, room: string, name: string, password?: string, token?: string}} opts
   */
  constructor({ url, room, name, password = '', token = '' }) {
    super();
    this.url = url;
    this.room = room;
    this.name = name;
    this.password = password;
    this.token = token;
    /** @type {WebSocket|null} */
    this.ws = null;
    this.status = 'idle';
    this.attempt = 0; // consecutive failed connections
    this.joined = false; // a welcome arrived on the current socket
    this.stopped = false; // leave() or a fatal refusal: no more reconnects
    this.retryTimer = 0;
    this.connectTimer = 0;
    /** the last welcome's resume token: a re-join with it is the same participant */
    this.resume = '';
    /** signal/key messages sent while the socket was down (see MAX_PENDING) */
    this.pending = [];
  }

  /** connect opens the socket (and keeps reopening it) until leave(). */
  connect() {
    this.stopped = false;
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    this.setStatus(this.attempt === 0 && !this.joinedOnce ? 'connecting' : 'reconnecting',
      { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      console.error('parley: cannot open the signaling socket', err);
      this.scheduleRetry('error');
      return;
    }
    this.ws = ws;
    this.joined = false;
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws && ws.readyState !== WebSocket.OPEN) ws.close();
    }, CONNECT_TIMEOUT_MS);
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      clearTimeout(this.connectTimer);
      this.send(joinMessage(this));
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      this.receive(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      clearTimeout(this.connectTimer);
      this.ws = null;
      this.joined = false;
      if (ev.code === CLOSE_TAKEN_OVER) {
        // Another connection resumed us (docs/protocol.md): reconnecting
        // would take the place back, and the two would fight for it.
        this.stopped = true;
        this.setStatus('closed', { code: ev.code, reason: 'taken-over' });
        return;
      }
      if (this.stopped) {
        this.setStatus('closed', { code: ev.code });
        return;
      }
      this.scheduleRetry(ev.code === 1001 ? 'server-shutdown' : 'closed', ev.code);
    });
    // 'error' is always followed by 'close'; nothing to do here.
  }

  scheduleRetry(reason, code) {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt++;
    this.setStatus('reconnecting', { attempt: this.attempt, delay, reason, code });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** retryNow skips the current back-off wait (e.g. the browser came back online). */
  retryNow() {
    if (this.stopped || this.ws) return;
    this.open();
  }

  receive(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      console.warn('parley: ignoring a non-JSON message from the server');
      return;
    }
    if (!msg || typeof msg.type !== 'string' || !SERVER_TYPES.has(msg.type)) {
      console.warn('parley: ignoring an unknown server message', msg && msg.type);
      return;
    }
    if (msg.type === 'welcome') {
      this.joined = true;
      this.joinedOnce = true;
      this.attempt = 0;
      this.resume = typeof msg.resume === 'string' ? msg.resume : '';
      // Resumed: what we said meanwhile still matters. A fresh start
      // (new id) makes it meaningless.
      const pending = this.pending;
      this.pending = [];
      if (msg.resumed === true) for (const m of pending) this.send(m);
      this.setStatus('open');
    }
    if (msg.type === 'error' && !this.joined) {
      // Before `welcome` every refusal is about our join. The socket stays
      // open but is useless; the app decides whether to try again
      // (room-full) or to ask for something else (bad-name, …).
      msg.join = true;
      this.stop();
    }
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
  }

  /** send queues one message; it is dropped (false) while disconnected. */
  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /** signal relays opaque data to one participant (docs/protocol.md `signal`). */
  signal(to, data) {
    return this.relay({ type: 'signal', to, data });
  }

  /** key relays opaque key material to one participant, or to all if `to` is empty. */
  key(data, to) {
    return this.relay(to ? { type: 'key', to, data } : { type: 'key', data });
  }

  /**
   * mls sends an MLS Delivery Service message (docs/protocol.md `mls`):
   * {kind, data?, proof?, epoch?, welcome?}; kept for a resume like key.
   */
  mls(msg) {
    return this.relay({ type: 'mls', ...msg });
  }

  /**
   * relay sends a message to other participants, or keeps it for a resume
   * while the socket is down after we had joined.
   */
  relay(msg) {
    if (this.joined && this.send(msg)) return true;
    if (!this.joinedOnce || this.stopped) return false;
    this.pending.push(msg);
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    return true;
  }

  /**
   * moderate asks the server to mute or remove a participant (docs/protocol.md
   * `moderate`; only a moderator's token allows it, others get `forbidden`).
   * Not kept for a resume: a moderator acts on what they see now.
   * @param {'mute'|'kick'} action
   */
  moderate(action, to) {
    return this.joined && this.send({ type: 'moderate', action, to });
  }

  /**
   * linkFailed tells the server that our mesh link to a participant cannot
   * connect (docs/protocol.md `link-failed`): an auto room then moves to
   * the SFU. Not kept for a resume: the watchdog asks again if it must.
   */
  linkFailed(peer) {
    return this.joined && this.send({ type: 'link-failed', peer });
  }

  /**
   * stats reports the client's health (docs/protocol.md `stats`): counts
   * since the previous report, e.g. {decryptFailures, decryptedFrames,
   * switchMs}. Nothing identifying goes in it.
   */
  stats(report) {
    return this.joined && this.send({ type: 'stats', ...report });
  }

  /** stop closes the socket without reconnecting. */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    const ws = this.ws;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    if (!ws) this.setStatus('closed');
  }

  /** leave tells the room we are going, then closes the socket. */
  leave() {
    if (this.joined) this.send({ type: 'leave' });
    this.stop();
  }

  setStatus(status, extra = {}) {
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: { status, ...extra } }));
  }
}
