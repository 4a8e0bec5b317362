// @ts-check
// The lobby: camera and microphone preview, device pickers, display name.

import { listDevices } from './media.js';
import { nameProblem } from './rooms.js';
import { showView } from './ui.js';
import { LocalLevel } from './speaking.js';
import { chime } from './toasts.js';

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

/** How often the lobby's microphone meter moves: smooth enough to see speech. */
const METER_MS = 100;
/** The speaker test: louder and longer than a notice, so it is heard. */
const SPEAKER_TEST_GAIN = 0.25;
const SPEAKER_TEST_S = 0.8;

/** browserOf names the browser family for instructions (user agent sniffing only picks the words). */
export function browserOf(ua) {
  if (/Firefox\//.test(ua)) return 'firefox';
  if (/Edg\//.test(ua)) return 'edge';
  if (/Chrome\//.test(ua)) return 'chrome';
  if (/Safari\//.test(ua)) return 'safari';
  return 'other';
}

/** How to allow the camera and microphone again, per browser. */
const ALLOW_HOW = {
  chrome: 'In Chrome: click the icon at the left of the address bar, set Camera and Microphone to Allow, then press Try again.',
  edge: 'In Edge: click the lock at the left of the address bar, set Camera and Microphone to Allow, then press Try again.',
  firefox: 'In Firefox: click the camera icon in the address bar, remove the “Blocked” permissions, then press Try again.',
  safari: 'In Safari: choose Safari › Settings for This Website, set Camera and Microphone to Allow, then press Try again.',
  other: 'Allow the camera and microphone for this site in your browser’s site settings, then press Try again.',
};

const WHAT = { cam: 'camera', mic: 'microphone' };

/**
 * lobbyHelp says exactly what is wrong with the camera and microphone, in
 * the lobby's words (nothing about a call not yet joined), and how to fix
 * it in the browser in use (DOM-free). '' when nothing is wrong.
 * @param {{cam?: string|null, mic?: string|null}} p problems (media.js problemOf)
 * @param {string} ua navigator.userAgent
 */
export function lobbyHelp(p, ua) {
  const parts = [];
  const both = p.cam && p.cam === p.mic;
  const devices = (kind) => (both ? 'camera and microphone' : WHAT[kind]);
  const plural = both ? 'are' : 'is';
  const seen = new Set();
  for (const kind of ['cam', 'mic']) {
    const problem = p[kind];
    if (!problem || seen.has(problem + (both ? '' : kind))) continue;
    seen.add(problem + (both ? '' : kind));
    const d = devices(kind);
    parts.push({
      denied: `Your browser blocked the ${d} for this site.`,
      missing: `No ${d} ${both ? 'were' : 'was'} found. Plug one in (or check it is switched on), then press Try again.`,
      busy: `Your ${d} ${plural} in use by another application. Close it, then press Try again.`,
      insecure: `The ${d} can only be used on a secure (https://) page.`,
      error: `Your ${d} could not be started. Press Try again.`,
    }[problem] ?? `Your ${d} could not be started.`);
  }
  if (!parts.length) return '';
  if (p.cam === 'denied' || p.mic === 'denied') parts.push(ALLOW_HOW[browserOf(ua)]);
  const lost = p.cam && p.mic ? 'You can still join to watch and listen.'
    : p.cam ? 'You can still join with sound only.' : 'You can still join; others will see you but not hear you.';
  parts.push(lost);
  return parts.join(' ');
}

/** pickerText is what an empty device picker says, matching the problem. */
function pickerText(kind, problem) {
  const d = kind === 'cam' ? 'Camera' : 'Microphone';
  return { denied: `${d} blocked`, busy: `${d} in use`, insecure: `${d} needs https://` }[problem] ?? `No ${d.toLowerCase()} found`;
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
    previewBox.querySelector('.preview-off').textContent = media.problems.cam
      ? `${pickerText('cam', media.problems.cam)}` : 'Camera is off';
    camOn.checked = media.camOn;
    micOn.checked = media.micOn;
    if (!media.allowed) {
      // A viewer's link (docs/access.md): no devices to choose.
      msg.textContent = VIEWER_TEXT;
      for (const c of [camSel, micSel, camOn, micOn]) c.disabled = true;
      return;
    }
    const help = lobbyHelp(media.problems, navigator.userAgent);
    msg.textContent = '';
    $('media-help-text').textContent = help;
    $('media-help').hidden = !help;
    const { cameras, mics } = await listDevices();
    // A blocked device is not "missing": the pickers say the same as the help.
    const { cam, mic } = media.problems;
    fillSelect(camSel, cam && cam !== 'missing' ? [] : cameras, media.camId, pickerText('cam', cam));
    fillSelect(micSel, mic && mic !== 'missing' ? [] : mics, media.micId, pickerText('mic', mic));
    level.follow(media.track('mic'));
  };
  const level = new LocalLevel();
  const meter = $('mic-level');
  const meterTimer = setInterval(() => {
    const v = media.micOn ? level.take() : 0;
    meter.value = Math.min(1, v * 4); // speech is around 0.05–0.25 RMS: spread it over the bar
  }, METER_MS);
  const stopLobby = () => {
    clearInterval(meterTimer);
    level.close();
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
  on($('media-retry'), 'click', async () => {
    const retry = $('media-retry');
    retry.disabled = true;
    $('media-help-text').textContent = 'Trying again…';
    try {
      // One device after the other: two prompts at once confuse people.
      if (media.problems.mic) await media.setMic(true).catch(() => {});
      if (media.problems.cam) await media.setCam(true).catch(() => {});
    } finally {
      retry.disabled = false;
      refresh();
    }
  });
  on($('speaker-test'), 'click', () => {
    level.resume();
    chime(SPEAKER_TEST_GAIN, SPEAKER_TEST_S);
    $('speaker-msg').textContent = 'Playing a tone. If you heard nothing, check the volume and the output device of your computer.';
  });
  on(document, 'pointerdown', () => level.resume());
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
      stopLobby();
      preview.srcObject = null;
      resolve({ name: n, password: pw ? pw.input.value : '' });
    });
  });
}
