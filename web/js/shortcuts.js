// @ts-check
// Keyboard shortcuts of the call, and the `?` dialog that lists them.
//
// Single keys (as in other meeting apps) press the control bar's buttons,
// so a shortcut does exactly what the button does, permissions included.
// They are ignored while typing (inputs, the chat box, menus) and with Ctrl,
// Alt or Meta held, and the person can turn them off in the dialog (WCAG
// 2.1.4: single-character shortcuts must be able to be turned off); the
// choice is remembered. `?` always opens the dialog, as does its button.
//
// DOM hooks: #shortcuts-dialog (dialog), #shortcuts-on and #sound-on
// (checkboxes), #help-toggle (opens it).

import { soundOn, setSound } from './toasts.js';

/** Where "shortcuts off" is remembered (localStorage). */
export const SHORTCUTS_KEY = 'parley.shortcuts';

/**
 * key → what it does (the button it presses, or an action name), in the
 * dialog's order; `what` is the dialog's text (room.html; shortcuts.test.js
 * keeps the two the same).
 */
export const SHORTCUTS = Object.freeze([
  { key: 'm', button: 'mic-toggle', what: 'Microphone on or off' },
  { key: 'v', button: 'cam-toggle', what: 'Camera on or off' },
  { key: 's', button: 'screen-toggle', what: 'Share your screen, or stop' },
  { key: 'c', button: 'chat-toggle', what: 'Chat open or closed' },
  { key: 'h', button: 'hand-toggle', what: 'Raise or lower your hand' },
  { key: 'l', action: 'layout', what: 'Next layout: stage, speaker, grid' },
  { key: '?', action: 'help', what: 'This list' },
]);

/**
 * shortcutFor returns the shortcut a keydown means, or null (DOM-free).
 * @param {{key: string, ctrlKey?: boolean, altKey?: boolean, metaKey?: boolean}} ev
 * @param {boolean} typing the focus is in a text field or a menu
 * @param {boolean} enabled single-key shortcuts are on
 */
export function shortcutFor(ev, typing, enabled) {
  if (ev.ctrlKey || ev.altKey || ev.metaKey || typing) return null;
  const key = ev.key.length === 1 ? ev.key.toLowerCase() : '';
  const s = SHORTCUTS.find((x) => x.key === key);
  if (!s) return null;
  if (!enabled && s.action !== 'help') return null;
  return s;
}

function enabledStored() {
  try {
    return localStorage.getItem(SHORTCUTS_KEY) !== 'off';
  } catch {
    return true;
  }
}

/** typingIn tells whether keys go to a field or widget of their own. */
function typingIn(el) {
  if (!el || !(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  if (el.closest('[role="menu"], dialog[open]')) return true;
  const tag = el.tagName;
  return tag === 'TEXTAREA' || tag === 'SELECT' || (tag === 'INPUT' && !['checkbox', 'radio', 'button'].includes(/** @type {HTMLInputElement} */ (el).type));
}

/**
 * wireShortcuts listens for shortcuts during a call.
 * @param {{onLayout: () => void, signal: AbortSignal}} o
 */
export function wireShortcuts({ onLayout, signal }) {
  const dialog = /** @type {HTMLDialogElement|null} */ (document.getElementById('shortcuts-dialog'));
  const onBox = /** @type {HTMLInputElement|null} */ (document.getElementById('shortcuts-on'));
  const soundBox = /** @type {HTMLInputElement|null} */ (document.getElementById('sound-on'));
  let enabled = enabledStored();
  const open = () => {
    if (!dialog || dialog.open) return;
    if (onBox) onBox.checked = enabled;
    if (soundBox) soundBox.checked = soundOn();
    dialog.showModal();
  };
  const on = (t, type, fn) => t?.addEventListener(type, fn, { signal });
  on(onBox, 'change', () => {
    enabled = onBox.checked;
    try {
      localStorage.setItem(SHORTCUTS_KEY, enabled ? 'on' : 'off');
    } catch {
      /* not remembered */
    }
  });
  on(soundBox, 'change', () => setSound(soundBox.checked));
  on(document.getElementById('help-toggle'), 'click', open);
  on(document, 'keydown', (/** @type {KeyboardEvent} */ ev) => {
    if (document.body.dataset.state !== 'in-call' && document.body.dataset.state !== 'reconnecting') return;
    const s = shortcutFor(ev, typingIn(/** @type {Element} */ (ev.target)), enabled);
    if (!s) return;
    ev.preventDefault();
    if (s.action === 'help') open();
    else if (s.action === 'layout') onLayout();
    else {
      const b = /** @type {HTMLButtonElement|null} */ (document.getElementById(s.button));
      if (b && !b.disabled && !b.hidden) b.click();
    }
  });
}
