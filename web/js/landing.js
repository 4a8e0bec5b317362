// @ts-check
// The landing page: start a new room or join one by name or link.

import { randomRoomName, parseRoomInput } from './rooms.js';
import { newRoomSecret } from './e2ee.js';

function roomURL(room) {
  return `/r/${encodeURIComponent(room)}`;
}

function main() {
  const input = /** @type {HTMLInputElement} */ (document.getElementById('room-input'));
  const error = document.getElementById('room-error');
  const form = document.getElementById('join-form');

  document.getElementById('new-room').addEventListener('click', () => {
    // A new room gets a room secret in the fragment (never sent to the
    // server): everyone who joins from its invite link verifies the others' keys.
    location.assign(`${roomURL(randomRoomName())}#k=${newRoomSecret()}`);
  });

  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
    input.setAttribute('aria-invalid', text ? 'true' : 'false');
  };
  input.addEventListener('input', () => showError(''));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const { room, error: problem } = parseRoomInput(input.value);
    if (problem) {
      showError(problem);
      input.focus();
      return;
    }
    // A pasted invite link keeps its #fragment (the E2EE room secret).
    const hash = /#/.test(input.value) ? input.value.slice(input.value.indexOf('#')) : '';
    location.assign(roomURL(room) + hash);
  });
}

main();
