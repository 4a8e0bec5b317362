// @ts-check
// The admin page (/admin) on top of the admin API (docs/admin.md): sign in
// with the admin token (kept in sessionStorage, this tab only), see every
// room with its mode, policy and participants (with their SFU pre-flight
// state) and, in a cluster, the node holding it, set policies, remove
// participants, close rooms. Refreshes itself.

import { AdminAPI, adminErrorText, POLICIES } from './adminapi.js';
import { receivingText } from './adminreceiving.js';

const TOKEN_KEY = 'parley.admin.token';
const REFRESH_MS = 2500;
/** A destructive button must be clicked twice within this time. */
const CONFIRM_MS = 5000;

const POLICY_LABEL = {
  auto: 'auto (mesh, SFU when large)',
  'mesh-only': 'mesh only (capped)',
  'sfu-only': 'SFU only',
};

const $ = (id) => /** @type {any} */ (document.getElementById(id));

/** session keeps the token in this tab only. */
const session = {
  get() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) ?? '';
    } catch {
      return '';
    }
  },
  set(v) {
    try {
      if (v) sessionStorage.setItem(TOKEN_KEY, v);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* private mode: the token lives only in memory */
    }
  },
};

/** @type {AdminAPI|null} */
let api = null;
let timer = 0;

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'for' || k === 'scope') e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

function policyOptions(select) {
  for (const p of POLICIES) select.append(el('option', { value: p, text: POLICY_LABEL[p] }));
  return select;
}

function showError(text) {
  const e = $('admin-error');
  e.textContent = text;
  e.hidden = !text;
}

function notice(text) {
  $('admin-notice').textContent = text;
}

// --- sign in / out ------------------------------------------------------

function signedIn(on) {
  $('token-form').hidden = on;
  $('dashboard').hidden = !on;
  $('sign-out').hidden = !on;
}

async function signIn(token) {
  api = new AdminAPI({ token });
  $('sign-in').disabled = true;
  try {
    const data = await api.rooms();
    session.set(token);
    showError('');
    signedIn(true);
    render(data);
    schedule();
  } catch (err) {
    api = null;
    session.set('');
    signedIn(false);
    showError(adminErrorText(err));
    $('token').setAttribute('aria-invalid', 'true');
    $('token').focus();
  } finally {
    $('sign-in').disabled = false;
  }
}

function signOut(message = '') {
  clearTimeout(timer);
  api = null;
  session.set('');
  $('token').value = '';
  $('rooms').replaceChildren();
  signedIn(false);
  showError(message);
}

// --- refresh ------------------------------------------------------------

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, REFRESH_MS);
}

async function refresh() {
  if (!api) return;
  try {
    render(await api.rooms());
    showError('');
  } catch (err) {
    if (err.status === 401) {
      signOut(adminErrorText(err));
      return;
    }
    showError(adminErrorText(err));
  }
  schedule();
}

/** act runs an admin action, reports it, and refreshes at once. */
async function act(what, fn) {
  if (!api) return;
  try {
    await fn();
    notice(what);
    showError('');
  } catch (err) {
    if (err.status === 401) {
      signOut(adminErrorText(err));
      return;
    }
    showError(adminErrorText(err));
  }
  clearTimeout(timer);
  await refresh();
}

// --- rendering (keyed, so refreshes keep focus and half-made choices) ----

function render({ policy, rooms }) {
  const global = $('global-policy');
  if (document.activeElement !== global && !global.dataset.dirty) global.value = policy;
  $('room-count').textContent = `(${rooms.length})`;
  $('no-rooms').hidden = rooms.length > 0;
  const list = $('rooms');
  const seen = new Set();
  for (const r of rooms) {
    seen.add(r.name);
    let card = list.querySelector(`:scope > [data-room="${CSS.escape(r.name)}"]`);
    if (!card) card = list.appendChild(roomCard(r.name));
    updateRoom(card, r);
  }
  for (const card of [...list.children]) if (!seen.has(card.dataset.room)) card.remove();
  $('refresh-status').textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

function roomCard(name) {
  const id = `room-${name}`;
  const select = policyOptions(el('select', { id: `${id}-policy`, class: 'room-policy', name: 'policy' }));
  select.addEventListener('change', () => { select.dataset.dirty = '1'; });
  const form = el('form', { class: 'room-policy-form' },
    el('label', { for: `${id}-policy`, text: 'Policy' }),
    el('div', { class: 'row' },
      select,
      el('button', { type: 'submit', class: 'apply-policy', text: 'Set policy' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = select.value;
    delete select.dataset.dirty;
    act(`Room ${name} is now ${p}.`, () => api.setRoomPolicy(name, p));
  });
  const close = el('button', { type: 'button', class: 'danger close-room', text: 'Close room' });
  twoStep(close, `Click again to close ${name} for everyone`, () => act(`Room ${name} closed.`, () => api.closeRoom(name)));
  const crypt = e2eeButton(name);
  const table = el('table', { class: 'people' },
    el('caption', { class: 'visually-hidden', text: `Participants in ${name}` }),
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col', text: 'Name' }),
      el('th', { scope: 'col', text: 'Path' }),
      el('th', { scope: 'col', text: 'SFU pre-flight' }),
      el('th', { scope: 'col', text: 'Receives' }),
      el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'Actions' })))),
    el('tbody'));
  return el('li', { class: 'card room', 'data-room': name, 'aria-labelledby': `${id}-h` },
    el('div', { class: 'room-head' },
      el('h3', { id: `${id}-h`, class: 'room-name', text: name }),
      el('span', { class: 'mode room-mode' }),
      el('span', { class: 'hint room-node', hidden: true }),
      el('span', { class: 'hint room-meta' }),
      close),
    form,
    el('p', { class: 'row' }, crypt),
    table);
}

/**
 * e2eeButton allows the room to go without end-to-end encryption (two
 * clicks: everyone in it is told, newcomers join unencrypted) or requires
 * it again (one click); updateRoom keeps its text in step (docs/admin.md).
 */
function e2eeButton(room) {
  const b = el('button', { type: 'button', class: 'room-e2ee' });
  b.addEventListener('click', () => {
    if (b.dataset.e2ee !== 'true') {
      act(`Room ${room} requires end-to-end encryption again.`, () => api.setRoomE2EE(room, true));
      return;
    }
    if (!b.dataset.armed) {
      b.dataset.armed = 'true';
      b.textContent = 'Confirm: allow unencrypted';
      notice(`Click again to let ${room} go without end-to-end encryption; everyone in it will see a warning.`);
      setTimeout(() => { delete b.dataset.armed; setE2EEButton(b, true); }, CONFIRM_MS);
      return;
    }
    delete b.dataset.armed;
    act(`Room ${room} may now go without end-to-end encryption.`, () => api.setRoomE2EE(room, false));
  });
  return b;
}

/** setE2EEButton shows what the room's encryption button would do. */
function setE2EEButton(b, e2ee) {
  b.dataset.e2ee = String(e2ee);
  if (b.dataset.armed) return;
  b.textContent = e2ee ? 'Allow unencrypted' : 'Require end-to-end encryption';
}

function updateRoom(card, r) {
  card.dataset.mode = r.mode;
  card.dataset.policy = r.policy;
  const mode = card.querySelector('.room-mode');
  mode.dataset.mode = r.mode;
  mode.textContent = r.mode === 'sfu' ? 'SFU' : 'mesh';
  // In a cluster, the node that holds the room (docs/cluster.md); actions
  // on it work from any node.
  const node = card.querySelector('.room-node');
  node.hidden = !r.node;
  node.textContent = r.node ? `on node ${r.node}` : '';
  card.dataset.node = r.node ?? '';
  const n = r.participants?.length ?? 0;
  card.querySelector('.room-meta').textContent = `${n} ${n === 1 ? 'person' : 'people'} · ${r.policy}${r.policySet ? ' (set here)' : ''} · ${r.switches} switch${r.switches === 1 ? '' : 'es'}${r.e2ee === false ? ' · NOT end-to-end encrypted' : ''}`;
  card.dataset.e2ee = String(r.e2ee !== false);
  setE2EEButton(card.querySelector('.room-e2ee'), r.e2ee !== false);
  const select = card.querySelector('.room-policy');
  if (document.activeElement !== select && !select.dataset.dirty) select.value = r.policy;
  const body = card.querySelector('tbody');
  const seen = new Set();
  for (const p of r.participants ?? []) {
    seen.add(p.id);
    let row = body.querySelector(`:scope > [data-peer-id="${CSS.escape(p.id)}"]`);
    if (!row) row = body.appendChild(personRow(r.name, p));
    row.dataset.sfu = p.sfu;
    row.dataset.path = p.path;
    row.querySelector('.p-path').textContent = p.path === 'sfu' ? 'SFU' : 'mesh';
    const sfu = row.querySelector('.p-sfu');
    sfu.textContent = SFU_TEXT[p.sfu] ?? p.sfu;
    sfu.dataset.state = p.sfu;
    const recv = r.receiving?.[p.id];
    const cell = row.querySelector('.p-recv');
    cell.textContent = recv ? receivingText(recv, r.participants) : '—';
    cell.dataset.paused = String(Boolean(recv?.video?.some((v) => v.paused === 'bandwidth')));
  }
  for (const row of [...body.children]) if (!seen.has(row.dataset.peerId)) row.remove();
}

const SFU_TEXT = {
  none: 'not tried',
  new: 'starting',
  connecting: 'connecting…',
  connected: 'reachable',
  disconnected: 'interrupted',
  failed: 'unreachable',
  closed: 'closed',
};

/** roleBadges marks viewers and moderators (from their join tokens). */
function roleBadges(p) {
  const out = [];
  if (p.moderator) out.push(' ', el('span', { class: 'hint p-role', text: 'moderator' }));
  if (p.viewer) out.push(' ', el('span', { class: 'hint p-role', text: 'viewer' }));
  return out;
}

function personRow(room, p) {
  const kick = el('button', { type: 'button', class: 'kick', text: 'Remove', 'aria-label': `Remove ${p.name} from ${room}` });
  twoStep(kick, `Click again to remove ${p.name}`, () => act(`${p.name} was removed from ${room}.`, () => api.kick(p.id)));
  return el('tr', { 'data-peer-id': p.id, 'data-name': p.name },
    el('td', { class: 'p-name' }, el('span', { text: p.name }), ' ', el('span', { class: 'hint p-id', text: p.id }),
      ...roleBadges(p)),
    el('td', { class: 'p-path' }),
    el('td', { class: 'p-sfu' }),
    el('td', { class: 'p-recv' }),
    el('td', { class: 'p-act' }, kick));
}

/**
 * twoStep makes a destructive button ask for a second click (no modal
 * dialog): the first click arms it and says what the second will do.
 */
function twoStep(button, armedText, run) {
  const idle = button.textContent;
  const idleLabel = button.getAttribute('aria-label');
  let t = 0;
  const disarm = () => {
    clearTimeout(t);
    delete button.dataset.armed;
    button.textContent = idle;
    if (idleLabel) button.setAttribute('aria-label', idleLabel);
    else button.removeAttribute('aria-label');
  };
  button.addEventListener('click', () => {
    if (!button.dataset.armed) {
      button.dataset.armed = 'true';
      button.textContent = 'Confirm';
      button.setAttribute('aria-label', armedText);
      notice(`${armedText}.`);
      t = setTimeout(disarm, CONFIRM_MS);
      return;
    }
    disarm();
    run();
  });
  button.addEventListener('blur', () => setTimeout(() => {
    if (document.activeElement !== button) disarm();
  }, 0));
}

// --- start ----------------------------------------------------------------

function main() {
  const global = policyOptions($('global-policy'));
  global.addEventListener('change', () => { global.dataset.dirty = '1'; });
  $('global-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = global.value;
    delete global.dataset.dirty;
    act(`Default policy is now ${p}.`, () => api.setPolicy(p));
  });
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = $('token').value.trim();
    $('token').removeAttribute('aria-invalid');
    if (!token) {
      showError('Enter the admin token.');
      $('token').focus();
      return;
    }
    signIn(token);
  });
  $('sign-out').addEventListener('click', () => signOut());
  const saved = session.get();
  if (saved) signIn(saved);
  else signedIn(false);
}

main();
