// @ts-check
// Chat (docs/datachannels.md): the side panel's conversation, over the
// message layer's `chat` messages. History lives in this page for the
// length of the call only; nobody who joins later sees what came before
// (the panel says so). User text only ever reaches the DOM as textContent:
// links are recognised here and built as <a> nodes, never as HTML.
//
// DOM hooks: #side (the panel, data-open), #chat-toggle (aria-expanded),
// #chat-unread (badge), #chat-log (li.msg[data-from][data-dm] > .who, .time,
// .text), #chat-form, #chat-to (select: '' = everyone, or a participant id),
// #chat-input.

/** Longest message one can type (the envelope allows MAX_CHAT). */
export const CHAT_MAX = 4000;

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
/** Trailing punctuation that usually ends a sentence, not a URL. */
const TRAIL_RE = /[.,;:!?)\]}'"]+$/;

/**
 * linkify splits text into plain parts and http(s) links. Only http and
 * https become links (no javascript:, data:, …).
 * @returns {({text: string}|{text: string, href: string})[]}
 */
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    const trail = url.match(TRAIL_RE)?.[0] ?? '';
    if (trail) url = url.slice(0, -trail.length);
    let href = '';
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
    } catch {
      href = '';
    }
    if (!href) continue;
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ text: url, href });
    last = m.index + url.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** clock renders a time as HH:MM in the person's locale. */
export function clock(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * ChatPanel wires the side panel's chat.
 */
export class ChatPanel {
  /**
   * @param {{channels: import('./channels.js').Channels,
   *          nameOf: (id: string) => string,
   *          people: () => {id: string, name: string}[],
   *          selfName: () => string,
   *          signal: AbortSignal}} o
   */
  constructor({ channels, nameOf, people, selfName, signal }) {
    this.channels = channels;
    this.nameOf = nameOf;
    this.people = people;
    this.selfName = selfName;
    const $ = (id) => document.getElementById(id);
    this.side = $('side');
    this.toggle = $('chat-toggle');
    this.unreadEl = $('chat-unread');
    this.log = $('chat-log');
    this.form = $('chat-form');
    this.to = /** @type {HTMLSelectElement} */ ($('chat-to'));
    this.input = /** @type {HTMLTextAreaElement} */ ($('chat-input'));
    this.unread = 0;
    /** history for the debug view and tests: {from, name, text, dm, at} */
    this.history = [];
    this.log.replaceChildren();
    const on = (t, type, fn) => t.addEventListener(type, fn, { signal });
    on(this.toggle, 'click', () => this.setOpen(this.side.dataset.open !== 'true'));
    on($('side-close'), 'click', () => this.setOpen(false));
    on(this.form, 'submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    on(this.input, 'keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.submit();
      }
    });
    on(document, 'keydown', (ev) => {
      if (ev.key === 'Escape' && this.side.dataset.open === 'true' && window.matchMedia('(max-width: 720px)').matches) this.setOpen(false);
    });
    on(channels, 'chat', ({ detail: m }) => this.add({
      from: m.from, name: this.nameOf(m.from), text: m.payload.text, dm: !!m.payload.dm, mine: false,
    }));
    this.setOpen(false);
    this.refreshTo();
  }

  get open() {
    return this.side.dataset.open === 'true';
  }

  /** setOpen shows or hides the panel (an overlay on narrow screens). */
  setOpen(open) {
    this.side.dataset.open = String(open);
    this.side.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    if (open) {
      this.unread = 0;
      this.renderUnread();
      this.input.focus({ preventScroll: true });
    }
  }

  /** refreshTo rebuilds the recipient picker (call it when people come and go). */
  refreshTo() {
    const keep = this.to.value;
    const opts = [new Option('Everyone', '')];
    for (const p of this.people()) opts.push(new Option(p.name, p.id)); // Option sets text, not HTML
    this.to.replaceChildren(...opts);
    this.to.value = opts.some((o) => o.value === keep) ? keep : '';
  }

  submit() {
    const text = this.input.value.trim().slice(0, CHAT_MAX);
    if (!text) return;
    const to = this.to.value;
    this.input.value = '';
    this.add({ from: '', name: this.selfName(), text, dm: !!to, mine: true, toName: to ? this.nameOf(to) : '' });
    this.channels.send('chat', to ? { text, dm: true } : { text }, { to }).catch((err) => {
      this.note(`Not delivered${to ? ` to ${this.nameOf(to)}` : ''}: ${err.message}`);
    });
  }

  /** add appends one message to the log (text only through textContent). */
  add({ from, name, text, dm, mine, toName = '' }) {
    const at = new Date();
    this.history.push({ from, name, text, dm, at: at.getTime() });
    const li = document.createElement('li');
    li.className = mine ? 'msg mine' : 'msg';
    li.dataset.from = from;
    if (dm) li.dataset.dm = 'true';
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = mine ? (dm ? `You → ${toName}` : 'You') : name;
    const time = document.createElement('time');
    time.className = 'time';
    time.dateTime = at.toISOString();
    time.textContent = clock(at);
    meta.append(who);
    if (dm) {
      const tag = document.createElement('span');
      tag.className = 'dm-tag';
      tag.textContent = 'direct';
      meta.append(tag);
    }
    meta.append(time);
    const body = document.createElement('div');
    body.className = 'text';
    for (const part of linkify(text)) {
      if ('href' in part) {
        const a = document.createElement('a');
        a.href = part.href;
        a.textContent = part.text;
        a.target = '_blank';
        a.rel = 'noopener noreferrer nofollow';
        body.append(a);
      } else {
        body.append(document.createTextNode(part.text));
      }
    }
    li.append(meta, body);
    this.append(li);
    if (!mine && !this.open) {
      this.unread++;
      this.renderUnread();
    }
  }

  /** note adds a line of our own (a delivery problem). */
  note(text) {
    const li = document.createElement('li');
    li.className = 'note';
    li.textContent = text;
    this.append(li);
  }

  append(li) {
    const stick = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 24;
    this.log.append(li);
    if (stick) li.scrollIntoView({ block: 'end' });
  }

  renderUnread() {
    this.unreadEl.hidden = this.unread === 0;
    this.unreadEl.textContent = this.unread > 99 ? '99+' : String(this.unread);
    this.toggle.setAttribute('aria-label', this.unread ? `Chat, ${this.unread} unread` : 'Chat');
  }
}
