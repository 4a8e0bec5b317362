// @ts-check
// Short notices at the edge of the call ("Ada joined", "Grace raised a
// hand"): they come and go by themselves and never take the focus. The
// region is aria-live="polite", so a screen reader reads each one after
// what it is saying. An optional soft sound (off unless the person turns it
// on in the keyboard-shortcuts dialog; remembered) goes with each one.
//
// DOM hooks: #toasts (role=status) > .toast[data-kind] with the text.

/** A toast stays this long: time to read a short sentence. */
export const TOAST_MS = 5000;
/** At most this many at once; older ones go first (a room filling up is not a wall of notices). */
export const MAX_TOASTS = 3;
/** Where the sound preference is kept (localStorage). */
export const SOUND_KEY = 'parley.sound';
/** The soft sound: one short sine note, quiet. */
const CHIME_HZ = 660;
const CHIME_S = 0.18;
const CHIME_GAIN = 0.06;

let audio = null;

/** soundOn tells whether the person asked for a sound with each notice. */
export function soundOn() {
  try {
    return localStorage.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}

/** setSound turns the notice sound on or off (remembered in this browser). */
export function setSound(on) {
  try {
    localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
  } catch {
    /* not remembered: fine */
  }
}

/** chime plays the soft notice sound (also used by the lobby's speaker test, louder). */
export function chime(gain = CHIME_GAIN, seconds = CHIME_S) {
  if (typeof AudioContext === 'undefined') return;
  audio ??= new AudioContext();
  if (audio.state === 'suspended') audio.resume().catch(() => {});
  const t = audio.currentTime;
  const osc = audio.createOscillator();
  const g = audio.createGain();
  osc.frequency.value = CHIME_HZ;
  g.gain.setValueAtTime(0, t);
  g.gain.linearRampToValueAtTime(gain, t + 0.02);
  g.gain.exponentialRampToValueAtTime(0.0001, t + seconds);
  osc.connect(g).connect(audio.destination);
  osc.start(t);
  osc.stop(t + seconds + 0.05);
}

/**
 * toast shows text for TOAST_MS in #toasts.
 * @param {string} text
 * @param {{kind?: 'join'|'leave'|'hand'|'share'|'muted'|'info'}} [opts]
 */
export function toast(text, { kind = 'info' } = {}) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = document.createElement('p');
  t.className = 'toast';
  t.dataset.kind = kind;
  t.textContent = text;
  box.append(t);
  while (box.children.length > MAX_TOASTS) box.firstElementChild?.remove();
  setTimeout(() => t.remove(), TOAST_MS);
  if (soundOn()) chime();
}

/** clearToasts removes every notice (the call ended). */
export function clearToasts() {
  document.getElementById('toasts')?.replaceChildren();
}
