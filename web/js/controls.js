// @ts-check
// The call's control bar: microphone, camera, screen share, invite link,
// leave; and our own tiles (camera, and the screen share as others see it).

import { problemOf } from './media.js';
import { Tile, showBanner, setPressed } from './ui.js';
import { DEFAULT_PERMISSIONS, mediaControls } from './permissions.js';
import { nextMode } from './layout.js';
import { toast } from './toasts.js';

/** Human text for a device that could not start. */
function failText(what, err) {
  const reason = {
    denied: 'access is blocked for this site',
    missing: 'no device was found',
    busy: 'it is in use by another application',
    insecure: 'the page is not secure (https://)',
  }[problemOf(err)] ?? (err?.message || err?.name || String(err));
  const subject = what === 'screen' ? 'Screen sharing' : `Your ${what}`;
  return `${subject} could not be started: ${reason}.`;
}

/**
 * wireControls connects the buttons to local media. It returns
 * renderLocal, which redraws our own tiles and the buttons' states.
 * permissions() says what we may send (a viewer: nothing; the media
 * buttons are then disabled, saying why).
 * @param {{media: import('./media.js').LocalMedia, grid: import('./ui.js').Grid,
 *          self: Tile, room: string, signal: AbortSignal, onLeave: () => void,
 *          permissions?: () => {publish: boolean, admin: boolean}}} o
 */
export function wireControls({ media, grid, self, room, signal, onLeave, permissions = () => DEFAULT_PERMISSIONS }) {
  const $ = (id) => /** @type {HTMLButtonElement} */ (document.getElementById(id));
  const micBtn = $('mic-toggle');
  const camBtn = $('cam-toggle');
  const screenBtn = $('screen-toggle');
  if (!navigator.mediaDevices?.getDisplayMedia) screenBtn.hidden = true;

  const fail = (what) => (err) => {
    if (what === 'screen' && err?.name === 'NotAllowedError') return; // the person cancelled
    showBanner(failText(what, err), { kind: 'error', timeout: 8000 });
  };
  const on = (target, type, fn) => target.addEventListener(type, fn, { signal });
  on(micBtn, 'click', () => media.setMic(!media.describe().mic).catch(fail('microphone')));
  on(camBtn, 'click', () => media.setCam(!media.describe().cam).catch(fail('camera')));
  on(screenBtn, 'click', () => {
    if (media.sharing) media.stopScreen();
    else media.startScreen().catch(fail('screen'));
  });
  on($('copy-link'), 'click', () => copyInvite(room));
  on($('leave'), 'click', onLeave);

  return function renderLocal() {
    const d = media.describe();
    // Our own screen share, so we see what the others see.
    if (d.screen) {
      const t = grid.get('self:screen')
        ?? grid.add(new Tile({ key: 'self:screen', name: self.name, self: true, screen: true }));
      t.setStream(media.screen);
    } else {
      grid.remove('self:screen');
    }
    setPressed(micBtn, d.mic, d.mic ? 'Turn microphone off' : 'Turn microphone on');
    setPressed(camBtn, d.cam, d.cam ? 'Turn camera off' : 'Turn camera on');
    setPressed(screenBtn, !!d.screen, d.screen ? 'Stop sharing your screen' : 'Share your screen');
    const c = mediaControls(permissions());
    for (const b of [micBtn, camBtn, screenBtn]) {
      b.disabled = c.disabled;
      if (c.disabled) b.title = c.title;
    }
    self.setMic(d.mic);
    self.setCam(d.cam);
  };
}

/** inviteLink is the room's link; the fragment (#k=…, the E2EE room secret) stays in it and is never sent to the server. */
function inviteLink(room) {
  return `${location.origin}/r/${encodeURIComponent(room)}${location.hash}`;
}

/**
 * wireLayout connects the layout picker (#layout-toggle opens #layouts, one
 * button per mode of layout.js) to the grid. It returns cycle(), the next
 * layout (the L shortcut). The choice is remembered by the Grid.
 * @param {{grid: import('./ui.js').Grid, signal: AbortSignal}} o
 */
export function wireLayout({ grid, signal }) {
  const btn = document.getElementById('layout-toggle');
  const bar = document.getElementById('layouts');
  const picks = /** @type {HTMLButtonElement[]} */ ([...bar.querySelectorAll('.layout-pick')]);
  const on = (t, type, fn) => t.addEventListener(type, fn, { signal });
  const render = () => {
    for (const b of picks) b.setAttribute('aria-pressed', String(b.dataset.layout === grid.mode));
    const name = picks.find((b) => b.dataset.layout === grid.mode)?.textContent ?? '';
    btn.title = `Layout: ${name} (L)`;
  };
  const open = (yes) => {
    bar.hidden = !yes;
    btn.setAttribute('aria-expanded', String(yes));
    if (yes) picks.find((b) => b.dataset.layout === grid.mode)?.focus();
  };
  on(btn, 'click', () => open(bar.hidden));
  on(bar, 'click', (ev) => {
    const b = /** @type {HTMLElement|null} */ (/** @type {HTMLElement} */ (ev.target).closest?.('.layout-pick'));
    if (!b) return;
    grid.setMode(b.dataset.layout);
    render();
    open(false);
    btn.focus();
  });
  on(bar, 'keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    open(false);
    btn.focus();
  });
  // A click elsewhere closes the picker.
  on(document, 'pointerdown', (ev) => {
    if (!bar.hidden && !/** @type {HTMLElement} */ (ev.target).closest?.('#layouts, #layout-toggle')) open(false);
  });
  open(false);
  render();
  return () => {
    grid.setMode(nextMode(grid.mode));
    render();
    toast(`Layout: ${picks.find((b) => b.dataset.layout === grid.mode)?.textContent}`);
  };
}

/**
 * setAlone shows (or hides) the invite prompt of a call with nobody else
 * in it (#alone, with the link and a copy button).
 */
export function setAlone(alone, room) {
  const box = document.getElementById('alone');
  if (!box || box.hidden === !alone) return;
  box.hidden = !alone;
  if (!alone) return;
  const input = /** @type {HTMLInputElement} */ (document.getElementById('alone-link'));
  input.value = inviteLink(room);
  const copy = document.getElementById('alone-copy');
  copy.onclick = () => copyInvite(room);
}

async function copyInvite(room) {
  const link = inviteLink(room);
  try {
    await navigator.clipboard.writeText(link);
    showBanner(`Invite link copied: ${link}`, { kind: 'info', timeout: 4000 });
  } catch {
    showBanner(`Share this link: ${link}`, { kind: 'info' });
  }
}
