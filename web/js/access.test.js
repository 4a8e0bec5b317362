import test from 'node:test';
import assert from 'node:assert/strict';
import { joinMessage, PROTOCOL_VERSION } from './signaling.js';
import { errorText, needsPassword } from './errors.js';

test('join carries a password or token only when there is one', () => {
  assert.deepEqual(joinMessage({ room: 'r', name: 'A' }), { type: 'join', v: PROTOCOL_VERSION, room: 'r', name: 'A' });
  assert.deepEqual(joinMessage({ room: 'r', name: 'A', password: 'pw' }),
    { type: 'join', v: PROTOCOL_VERSION, room: 'r', name: 'A', password: 'pw' });
  assert.deepEqual(joinMessage({ room: 'r', name: 'A', token: 'a.b.c' }),
    { type: 'join', v: PROTOCOL_VERSION, room: 'r', name: 'A', token: 'a.b.c' });
});

test('password refusals send the person back to the lobby with a prompt', () => {
  assert.equal(needsPassword('password-required'), true);
  assert.equal(needsPassword('bad-password'), true);
  assert.equal(needsPassword('bad-token'), false);
  assert.equal(needsPassword('room-full'), false);
  for (const code of ['password-required', 'bad-password', 'bad-token', 'token-required']) {
    const text = errorText({ code, message: 'x' });
    assert.ok(text.length > 20 && !text.includes(code), `${code}: ${text}`);
  }
});
