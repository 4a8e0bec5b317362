// The lobby: camera and microphone preview, device pickers, display name.

import { listDevices, describeMediaProblems } from './media.js';
import { nameProblem } from './rooms.js';
import { showView } from './ui.js';

const NAME_KEY = 'parley.name';
const CAMERA_KEY = 'parley.camera';
const MIC_KEY = 'parley.mic';

/** What the lobby says to a viewer (a link whose token says publish: false). */
const VIEWER_TEXT = 'You are joining as a viewer: you can watch, listen and chat, but not send video or sound.';

/** storage wraps localStorage, which may be unavailable (privacy modes). */
export const storage = {
  get(k) {
    try {
      return localStorage.getItem(k) ?? '';
    } catch {
      return '';
    }
  },
  set(k, v) {
    try {
      localStorage.setItem(k, v);
    } catch {
      /* not remembered: fine */
    }
  },
};

/** rememberedDevices returns the devices chosen last time ('' = default). */
export function rememberedDevices() {
  return { camId: storage.get(CAMERA_KEY), micId: storage.get(MIC_KEY) };
}

export function rememberName(name) {
  storage.set(NAME_KEY, name);
}

function $(id) {
  return /** @type {any} */ (document.getElementById(id));
}

function fillSelect(select, devices, current, noneText) {
  select.replaceChildren();
  if (!devices.length) {
    const o = new Option(noneText, '');
    select.append(o);
    select.disabled = true;
    return;
  }
  select.disabled = false;
  for (const d of devices) select.append(new Option(d.label, d.id, false, d.id === current));
}

/**
 * passwordField returns the lobby's room-password input, adding it (label,
 * input, error line) to the form the first time a room asks for one. It is
 * built here rather than in room.html because most rooms never need it.
 */
function passwordField(form) {
  let input = $('room-password');
  if (input) return { input, err: $('password-error') };
  const label = document.createElement('label');
  label.htmlFor = 'room-password';
  label.textContent = 'Room password';
  input = document.createElement('input');
  Object.assign(input, { id: 'room-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  input.setAttribute('aria-describedby', 'password-error');
  const err = document.createElement('p');
  Object.assign(err, { id: 'password-error', className: 'field-error', hidden: true });
  err.setAttribute('role', 'alert');
  const before = form.querySelector('#camera-select')?.previousElementSibling ?? form.firstChild;
  form.insertBefore(label, before);
  form.insertBefore(input, before);
  form.insertBefore(err, before);
  return { input, err };
}

/**
 * runLobby shows the lobby until the person presses Join with a valid name
 * (and, when the room asked for one, a password).
 * Media must be started (or starting) by the caller: `ready` resolves when
 * media.start() has finished.
 * @param {{room: string, media: import('./media.js').LocalMedia, ready: Promise<void>,
 *          name?: string, error?: string, askPassword?: boolean, passwordError?: string}} opts
 * @returns {Promise<{name: string, password: string}>}
 */
export function runLobby({ room, media, ready, name = '', error = '', askPassword = false, passwordError = '' }) {
  showView('lobby');
  $('lobby-room').textContent = room;
  document.title = `Join ${room} — Parley`;
  const input = $('display-name');
  const nameErr = $('name-error');
  const msg = $('lobby-msg');
  const preview = $('preview');
  const previewBox = preview.parentElement;
  const camSel = $('camera-select');
  const micSel = $('mic-select');
  const camOn = $('lobby-cam-on');
  const micOn = $('lobby-mic-on');
  const form = $('lobby-form');
  const join = $('join');

  input.value = name || input.value || storage.get(NAME_KEY);
  const showNameError = (text) => {
    nameErr.textContent = text;
    nameErr.hidden = !text;
    input.setAttribute('aria-invalid', text ? 'true' : 'false');
  };
  showNameError(error);
  const pw = askPassword ? passwordField(form) : null;
  if (pw) {
    pw.input.value = '';
    pw.err.textContent = passwordError;
    pw.err.hidden = !passwordError;
    pw.input.setAttribute('aria-invalid', passwordError && !passwordError.startsWith('This room is protected') ? 'true' : 'false');
  }

  const refresh = async () => {
    preview.srcObject = media.camera;
    previewBox.dataset.cam = media.track('cam') ? 'on' : 'off';
    camOn.checked = media.camOn;
    micOn.checked = media.micOn;
    if (!media.allowed) {
      // A viewer's link (docs/access.md): no devices to choose.
      msg.textContent = VIEWER_TEXT;
      for (const c of [camSel, micSel, camOn, micOn]) c.disabled = true;
      return;
    }
    msg.textContent = describeMediaProblems(media.problems);
    const { cameras, mics } = await listDevices();
    fillSelect(camSel, cameras, media.camId, 'No camera found');
    fillSelect(micSel, mics, media.micId, 'No microphone found');
  };

  const ac = new AbortController();
  const on = (target, type, fn) => target.addEventListener(type, fn, { signal: ac.signal });
  on(media, 'change', () => refresh());
  on(navigator.mediaDevices ?? new EventTarget(), 'devicechange', () => refresh());
  on(camSel, 'change', async () => {
    storage.set(CAMERA_KEY, camSel.value);
    try {
      await media.useCamera(camSel.value);
    } catch (err) {
      msg.textContent = `That camera could not be started (${err.name}).`;
    }
  });
  on(micSel, 'change', async () => {
    storage.set(MIC_KEY, micSel.value);
    try {
      await media.useMic(micSel.value);
    } catch (err) {
      msg.textContent = `That microphone could not be started (${err.name}).`;
    }
  });
  on(camOn, 'change', () => media.setCam(camOn.checked).catch(() => {}));
  on(micOn, 'change', () => media.setMic(micOn.checked).catch(() => {}));
  on(input, 'input', () => showNameError(''));
  if (pw) on(pw.input, 'input', () => { pw.err.hidden = true; pw.input.setAttribute('aria-invalid', 'false'); });

  msg.textContent = media.allowed ? 'Starting your camera and microphone…' : VIEWER_TEXT;
  ready.then(refresh);
  if (pw && !error && input.value) pw.input.focus();
  else if (!error) input.focus();
  else input.select();

  return new Promise((resolve) => {
    on(form, 'submit', async (ev) => {
      ev.preventDefault();
      const problem = nameProblem(input.value);
      if (problem) {
        showNameError(problem);
        input.focus();
        return;
      }
      if (pw && !pw.input.value) {
        pw.err.textContent = 'Enter the room password.';
        pw.err.hidden = false;
        pw.input.focus();
        return;
      }
      join.disabled = true;
      await ready;
      join.disabled = false;
      const n = input.value.trim();
      storage.set(NAME_KEY, n);
      ac.abort();
      preview.srcObject = null;
      resolve({ name: n, password: pw ? pw.input.value : '' });
    });
  });
}
