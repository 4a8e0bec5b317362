// @ts-check
// In-room moderation (docs/protocol.md `moderate`, `muted`): a moderator's
// menu on every remote tile (mute a microphone, remove from the call), and
// what happens to us when a moderator mutes us. Who may do what is decided
// by permissions.js; the server enforces it (a non-moderator's `moderate`
// gets `forbidden`, shown in the banner like every other error).
//
// DOM hooks: `.tile[data-peer-id] .mod > button.mod-toggle` (aria-label
// "Moderate NAME", aria-haspopup="menu", aria-expanded) opening
// `.mod-menu[role=menu]` with `button[role=menuitem][data-action=mute|kick]`;
// the removal is confirmed in `#kick-dialog` (a native <dialog>:
// `#kick-confirm`, `#kick-cancel`).

import { showBanner, icon, svgEl } from './ui.js';

/** moreIcon is the menu button's "⋮" as an SVG (no font needed). */
function moreIcon() {
  return icon(...[5, 12, 19].map((cy) => svgEl('circle', { cx: 12, cy, r: 2.2, fill: 'currentColor' })));
}

let menuSeq = 0;

/** MARGIN keeps a menu this far (px) from the edges of the window. */
const MARGIN = 4;

/**
 * place puts an open menu above its button (below it if there is no room),
 * right-aligned with it and inside the window: fixed coordinates, so a
 * small tile's overflow does not clip it.
 */
function place(menu, btn) {
  const b = btn.getBoundingClientRect();
  const m = menu.getBoundingClientRect();
  let top = b.top - m.height - MARGIN;
  if (top < MARGIN) top = Math.min(b.bottom + MARGIN, window.innerHeight - m.height - MARGIN);
  const left = Math.max(MARGIN, Math.min(b.right - m.width, window.innerWidth - m.width - MARGIN));
  menu.style.top = `${Math.max(MARGIN, top)}px`;
  menu.style.left = `${left}px`;
}

export class Moderation {
  /**
   * @param {{send: (action: 'mute'|'kick', to: string) => boolean,
   *          media: import('./media.js').LocalMedia,
   *          nameOf: (id: string) => string,
   *          isViewer: (id: string) => boolean,
   *          signal: AbortSignal}} o
   *   send: the `moderate` message (false when the socket is down).
   */
  constructor({ send, media, nameOf, isViewer, signal }) {
    this.send = send;
    this.media = media;
    this.nameOf = nameOf;
    this.isViewer = isViewer;
    this.signal = signal;
    this.admin = false;
    /** @type {{menu: HTMLElement, close: (focus?: boolean) => void}|null} the open menu */
    this.open = null;
    this.dialog = /** @type {HTMLDialogElement|null} */ (document.getElementById('kick-dialog'));
    // A layout change closes the open menu (its fixed place would be wrong).
    const closeOpen = () => this.open?.close(false);
    window.addEventListener('resize', closeOpen, { signal });
    document.getElementById('grid')?.addEventListener('scroll', closeOpen, { signal });
    signal.addEventListener('abort', () => {
      this.open?.close(false);
      if (this.dialog?.open) this.dialog.close('cancel');
    });
  }

  /** setAdmin says whether we are a moderator (welcome.permissions.admin). */
  setAdmin(on) {
    this.admin = on;
  }

  /**
   * decorate gives a remote camera tile its moderator menu, or takes it
   * away when we are not a moderator (tiles.js calls it for every new
   * tile; call it again for every tile when the permissions change).
   * @param {string} id
   * @param {import('./ui.js').Tile} tile
   */
  decorate(id, tile) {
    if (!this.admin) {
      tile.setMenu(null);
      return;
    }
    const name = this.nameOf(id);
    const wrap = document.createElement('div');
    wrap.className = 'mod';
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'mod-toggle';
    btn.setAttribute('aria-label', `Moderate ${name}`);
    btn.title = `Moderate ${name}`;
    btn.setAttribute('aria-haspopup', 'menu');
    btn.setAttribute('aria-expanded', 'false');
    btn.append(moreIcon());
    const menu = document.createElement('div');
    menu.className = 'mod-menu';
    menu.id = `mod-menu-${++menuSeq}`;
    menu.setAttribute('role', 'menu');
    menu.setAttribute('aria-label', `Moderate ${name}`);
    menu.hidden = true;
    btn.setAttribute('aria-controls', menu.id);
    const item = (action, text) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('role', 'menuitem');
      b.tabIndex = -1;
      b.dataset.action = action;
      b.textContent = text;
      return b;
    };
    const items = [item('kick', 'Remove from call')];
    // A viewer sends no sound: nothing to mute.
    if (!this.isViewer(id)) items.unshift(item('mute', 'Mute microphone'));
    menu.append(...items);
    wrap.append(btn, menu);

    const close = (focus = true) => {
      if (menu.hidden) return;
      menu.hidden = true;
      btn.setAttribute('aria-expanded', 'false');
      if (this.open?.menu === menu) this.open = null;
      if (focus) btn.focus();
    };
    const show = (at = 0) => {
      if (this.open && this.open.menu !== menu) this.open.close(false);
      menu.hidden = false;
      place(menu, btn);
      btn.setAttribute('aria-expanded', 'true');
      this.open = { menu, close };
      items.at(at)?.focus();
    };
    // (Listeners on the menu's own elements go with them.)
    const on = (target, type, fn) => target.addEventListener(type, fn);
    on(btn, 'click', () => (menu.hidden ? show(0) : close()));
    on(btn, 'keydown', (ev) => {
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        show(ev.key === 'ArrowDown' ? 0 : -1);
      }
    });
    on(menu, 'keydown', (ev) => {
      const i = items.indexOf(/** @type {any} */ (document.activeElement));
      const move = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: items.length - 1 }[ev.key];
      if (move !== undefined) {
        ev.preventDefault();
        items[(move + items.length) % items.length].focus();
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        close();
      } else if (ev.key === 'Tab') {
        close(false);
      }
    });
    // A click or focus anywhere else closes it.
    on(wrap, 'focusout', (ev) => {
      if (!wrap.contains(/** @type {Node|null} */ (ev.relatedTarget))) close(false);
    });

    for (const b of items) {
      on(b, 'click', () => {
        close();
        this.act(b.dataset.action, id);
      });
    }
    tile.setMenu(wrap);
  }

  /** act carries out a menu choice (a removal after confirmation). */
  act(action, id) {
    const name = this.nameOf(id);
    if (action === 'mute') {
      if (this.send('mute', id)) showBanner(`You muted ${name}'s microphone. They can turn it back on.`, { kind: 'info', key: 'moderation', timeout: 5000 });
      else this.offline();
      return;
    }
    if (action !== 'kick') return;
    const d = this.dialog;
    if (!d || typeof d.showModal !== 'function') {
      // An old browser without <dialog>.
      if (window.confirm(`Remove ${name} from the call?`)) this.kick(id);
      return;
    }
    d.querySelector('#kick-text').textContent = `Remove ${name} from the call? They are disconnected at once and told that you removed them.`;
    d.returnValue = '';
    d.addEventListener('close', () => {
      if (d.returnValue === 'kick') this.kick(id);
    }, { once: true, signal: this.signal });
    d.showModal();
    /** @type {HTMLElement} */ (d.querySelector('#kick-cancel')).focus();
  }

  kick(id) {
    if (!this.send('kick', id)) this.offline();
  }

  offline() {
    showBanner('Not connected to the server right now; try again in a moment.', { kind: 'warn', timeout: 5000 });
  }

  /**
   * onMuted handles `muted`: a moderator turned our microphone off, as if
   * we had pressed the button (we may turn it on again).
   * @param {{by?: {id?: string, name?: string}}} msg
   */
  onMuted(msg) {
    const by = typeof msg?.by?.name === 'string' && msg.by.name ? msg.by.name : 'A moderator';
    this.media.setMic(false).catch(() => {});
    showBanner(`${by} muted your microphone. You can turn it back on with the Mic button.`, { kind: 'warn', key: 'muted' });
  }
}
