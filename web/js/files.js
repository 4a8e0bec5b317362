// @ts-check
// File transfer UI (docs/datachannels.md "File transfer"): pick files with
// the panel's button or drop them on the call, to everyone or to the person
// chosen in the panel's "To" picker; the receiver accepts or declines before
// any byte flows; both ends see a progress bar with the speed and can
// cancel; the download is offered only once its SHA-256 root checked out
// (filechunks.js does the protocol).
//
// DOM hooks: #file-pick (button), #file-input (input type=file),
// #transfers > li.transfer[data-id][data-dir=in|out][data-peer-id][data-state]
// with progress, .speed, .accept, .decline, .cancel, a.download (blob: URL),
// .error. window.parley.files() lists them (tests).

import {
  Outgoing, Incoming, MAX_FILE_SIZE, TransferError, WINDOW, MESH_WINDOW,
} from './filechunks.js';

/** formatBytes renders a size for people. */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const randomId = () => Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => (b % 36).toString(36)).join('');

const STATE_TEXT = {
  offered: 'Waiting for an answer…',
  sending: 'Sending',
  receiving: 'Receiving',
  verifying: 'Checking…',
  done: 'Done',
  declined: 'Declined',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

export class Files {
  /**
   * @param {{channels: import('./channels.js').Channels,
   *          nameOf: (id: string) => string,
   *          people: () => {id: string, name: string}[],
   *          recipient: () => string,
   *          maxSize?: number,
   *          onActivity?: () => void,
   *          signal: AbortSignal}} o
   *   recipient: '' = everyone.
   */
  constructor({ channels, nameOf, people, recipient, maxSize = MAX_FILE_SIZE, onActivity = () => {}, signal }) {
    this.channels = channels;
    this.nameOf = nameOf;
    this.people = people;
    this.recipient = recipient;
    this.maxSize = Math.min(maxSize, MAX_FILE_SIZE);
    this.onActivity = onActivity;
    /** @type {Map<string, {t: Outgoing, dir: 'out', peer: string, li: HTMLLIElement, url: string}|{t: Incoming, dir: 'in', peer: string, li: HTMLLIElement, url: string}>} */
    this.transfers = new Map();
    const $ = (id) => document.getElementById(id);
    this.list = $('transfers');
    this.list.replaceChildren();
    this.input = /** @type {HTMLInputElement} */ ($('file-input'));
    const on = (t, type, fn) => t.addEventListener(type, fn, { signal });
    on($('file-pick'), 'click', () => this.input.click());
    on(this.input, 'change', () => {
      for (const f of this.input.files ?? []) this.send(f, this.recipient());
      this.input.value = '';
    });
    const call = $('call');
    on(call, 'dragover', (ev) => {
      if (!ev.dataTransfer?.types.includes('Files')) return;
      ev.preventDefault();
      call.dataset.drop = 'true';
    });
    on(call, 'dragleave', (ev) => {
      if (ev.target === call || !call.contains(/** @type {Node} */ (ev.relatedTarget))) delete call.dataset.drop;
    });
    on(call, 'drop', (ev) => {
      delete call.dataset.drop;
      if (!ev.dataTransfer?.files.length) return;
      ev.preventDefault();
      for (const f of ev.dataTransfer.files) this.send(f, this.recipient());
    });
    on(channels, 'file-offer', ({ detail: m }) => this.offered(m));
    const find = (m) => {
      const e = this.transfers.get(key(m.payload.id, m.from));
      return e && e.peer === m.from ? e : null;
    };
    // Only the receiver accepts or declines: answers to our own offers.
    const outgoing = (m) => {
      const e = find(m);
      return e?.dir === 'out' ? e : null;
    };
    on(channels, 'file-accept', ({ detail: m }) => outgoing(m)?.t.accept());
    on(channels, 'file-decline', ({ detail: m }) => outgoing(m)?.t.decline());
    on(channels, 'file-cancel', ({ detail: m }) => find(m)?.t.cancel(false, m.payload.reason || `${this.nameOf(m.from)} cancelled.`));
    on(channels, 'file-ack', ({ detail: m }) => {
      const e = find(m);
      if (e?.dir === 'out') e.t.ack(m.payload.next, !!m.payload.resync);
    });
    on(channels, 'file-chunk', ({ detail: m }) => {
      const e = find(m);
      if (e?.dir === 'in') e.t.receive(m.payload.i, m.data);
    });
    on(channels, 'file-end', ({ detail: m }) => {
      const e = find(m);
      if (e?.dir === 'in') e.t.end(m.payload.n, m.payload.root);
    });
    const timer = setInterval(() => this.tick(), 500);
    signal.addEventListener('abort', () => {
      clearInterval(timer);
      for (const e of this.transfers.values()) {
        e.t.cancel(true, e.dir === 'out' ? 'The sender left the call.' : 'The receiver left the call.');
        if (e.url) URL.revokeObjectURL(e.url);
      }
    });
  }

  /** send offers a file to one participant, or to each one ('' = everyone). */
  send(file, to) {
    const peers = to ? [to] : this.people().map((p) => p.id);
    if (!peers.length) {
      this.problem(`Nobody else is here to receive ${file.name}.`);
      return;
    }
    if (file.size > this.maxSize) {
      this.problem(`${file.name} is too large (${formatBytes(file.size)}; at most ${formatBytes(this.maxSize)}).`);
      return;
    }
    for (const peer of peers) {
      const id = randomId();
      const t = new Outgoing({
        id,
        file,
        to: peer,
        route: () => this.channels.route(peer, 'file'),
        window: () => (this.channels.pick(peer, 'file')?.via === 'mesh' ? MESH_WINDOW : WINDOW),
        send: (type, payload, data) => this.channels.send(type, payload, { to: peer, data }),
      });
      this.track(t, 'out', peer);
      this.channels.send('file-offer', t.offer(), { to: peer }).catch((err) => {
        t.fail(`Could not reach ${this.nameOf(peer)}: ${err.message}`);
      });
    }
    this.onActivity();
  }

  offered(m) {
    const k = key(m.payload.id, m.from);
    if (this.transfers.has(k)) return;
    const t = new Incoming({
      offer: m.payload,
      from: m.from,
      maxSize: this.maxSize,
      send: (type, payload) => this.channels.send(type, payload, { to: m.from }),
    });
    this.track(t, 'in', m.from);
    if (t.tooLarge) {
      t.error = `Too large (at most ${formatBytes(this.maxSize)}).`;
      t.decline();
    }
    this.onActivity();
  }

  /** track adds a transfer's row and keeps it up to date. */
  track(t, dir, peer) {
    const li = document.createElement('li');
    li.className = 'transfer';
    li.dataset.id = t.id;
    li.dataset.dir = dir;
    li.dataset.peerId = peer;
    const title = document.createElement('div');
    title.className = 'transfer-title';
    const name = document.createElement('span');
    name.className = 'file-name';
    name.textContent = dir === 'out' ? t.file.name || 'file' : t.name;
    const who = document.createElement('span');
    who.className = 'file-peer';
    const size = dir === 'out' ? t.file.size : t.size;
    who.textContent = `${dir === 'out' ? 'to' : 'from'} ${this.nameOf(peer)} · ${formatBytes(size)}`;
    title.append(name, who);
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute('aria-label', `${dir === 'out' ? 'Sending' : 'Receiving'} ${name.textContent}`);
    const status = document.createElement('div');
    status.className = 'transfer-status';
    const state = document.createElement('span');
    state.className = 'state';
    const speed = document.createElement('span');
    speed.className = 'speed';
    const err = document.createElement('span');
    err.className = 'error';
    err.setAttribute('role', 'status');
    status.append(state, speed);
    const actions = document.createElement('div');
    actions.className = 'transfer-actions';
    const button = (cls, text, label, fn) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = cls;
      b.textContent = text;
      b.setAttribute('aria-label', `${label} ${name.textContent}`);
      b.addEventListener('click', fn);
      return b;
    };
    const accept = dir === 'in' ? button('accept', 'Accept', 'Accept', () => t.accept()) : null;
    const decline = dir === 'in' ? button('decline', 'Decline', 'Decline', () => t.decline()) : null;
    const cancel = button('cancel', 'Cancel', 'Cancel', () => t.cancel(true, `${dir === 'out' ? 'The sender' : 'The receiver'} cancelled.`));
    actions.append(...[accept, decline, cancel].filter(Boolean));
    li.append(title, bar, status, err, actions);
    this.list.append(li);
    const entry = { t, dir, peer, li, url: '', bar, state, speed, err, accept, decline, cancel };
    this.transfers.set(key(t.id, peer), entry);
    t.addEventListener('change', () => this.render(entry));
    this.render(entry);
  }

  render(e) {
    const { t } = e;
    e.li.dataset.state = t.state;
    e.bar.value = t.progress.fraction;
    e.state.textContent = STATE_TEXT[t.state] ?? t.state;
    const active = t.state === 'sending' || t.state === 'receiving';
    e.speed.textContent = active ? `${Math.round(t.progress.fraction * 100)} % · ${formatBytes(Math.round(t.progress.speed))}/s` : '';
    e.err.textContent = t.error || '';
    if (e.accept) e.accept.hidden = t.state !== 'offered';
    if (e.decline) e.decline.hidden = t.state !== 'offered';
    e.cancel.hidden = t.finished || (e.dir === 'in' && t.state === 'offered');
    if (e.dir === 'in' && t.state === 'done' && t.blob && !e.url) {
      e.url = URL.createObjectURL(t.blob);
      const a = document.createElement('a');
      a.className = 'download button';
      a.href = e.url;
      a.download = safeName(t.name);
      a.textContent = 'Save';
      a.setAttribute('aria-label', `Save ${t.name}`);
      a.dataset.sha256root = t.root;
      e.li.querySelector('.transfer-actions').append(a);
    }
  }

  tick() {
    for (const e of this.transfers.values()) if (!e.t.finished) this.render(e);
  }

  /** forget cancels what is going on with someone who left. */
  forget(peer) {
    for (const e of this.transfers.values()) {
      if (e.peer === peer && !e.t.finished) {
        e.t.fail(`${this.nameOf(peer)} left the call.`);
      }
    }
  }

  problem(text) {
    const li = document.createElement('li');
    li.className = 'transfer note';
    li.textContent = text;
    this.list.append(li);
    this.onActivity();
  }

  /** blob returns a received, verified file (the one its Save link points at), for tests. */
  blob(id) {
    for (const e of this.transfers.values()) if (e.dir === 'in' && e.t.id === id) return e.t.blob;
    return null;
  }

  /** list for tests: every transfer and where it is. */
  info() {
    return [...this.transfers.values()].map(({ t, dir, peer, url }) => ({
      id: t.id, dir, peer, state: t.state, error: t.error, done: t.progress.done, size: dir === 'out' ? t.file.size : t.size, url,
    }));
  }
}

const key = (id, peer) => `${peer}/${id}`;

/**
 * safeName keeps a received file name harmless as a download name (control
 * and bidirectional characters are gone already: Incoming's displayName).
 */
function safeName(name) {
  return String(name).replace(/[\\/:*?"<>|]/g, '_').slice(0, 255) || 'file';
}

export { TransferError };
