// The signaling client: one WebSocket to /ws speaking docs/protocol.md v1.
//
// It joins the room when the socket opens and re-joins after every
// reconnection (with exponential back-off and jitter). The server gives a
// new participant id on each join, so listeners must treat every `welcome`
// as a fresh start.
//
// Events (all CustomEvents; `detail` is the server message unless noted):
//   welcome, peer-joined, peer-left, signal, key, mode, error,
//   server-shutdown
//   status   detail: {status: 'connecting'|'open'|'reconnecting'|'closed',
//                     attempt?, delay?, reason?}

import { backoffDelay } from './backoff.js';

export const PROTOCOL_VERSION = 1;

/** Server message types this client understands. */
const SERVER_TYPES = new Set([
  'welcome', 'peer-joined', 'peer-left', 'signal', 'key', 'mode', 'error', 'server-shutdown',
]);

/** How long a connection attempt may take before it is abandoned. */
const CONNECT_TIMEOUT_MS = 10000;

/** wsURL returns the signaling endpoint of the server that served the page. */
export function wsURL(loc = globalThis.location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

export class Signaling extends EventTarget {
  /**
   * @param {{url: string, room: string, name: string}} opts
   */
  constructor({ url, room, name }) {
    super();
    this.url = url;
    this.room = room;
    this.name = name;
    /** @type {WebSocket|null} */
    this.ws = null;
    this.status = 'idle';
    this.attempt = 0; // consecutive failed connections
    this.joined = false; // a welcome arrived on the current socket
    this.stopped = false; // leave() or a fatal refusal: no more reconnects
    this.retryTimer = 0;
    this.connectTimer = 0;
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
      this.send({ type: 'join', v: PROTOCOL_VERSION, room: this.room, name: this.name });
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
    return this.joined && this.send({ type: 'signal', to, data });
  }

  /** key relays opaque key material to one participant, or to all if `to` is empty. */
  key(data, to) {
    return this.joined && this.send(to ? { type: 'key', to, data } : { type: 'key', data });
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
