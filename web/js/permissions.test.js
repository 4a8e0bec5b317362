import test from 'node:test';
import assert from 'node:assert/strict';
import {
  permissionsOf, tokenHint, roleOf, roleLabels, mediaControls, Roles, VIEWER_TITLE,
} from './permissions.js';
import { errorText, endText } from './errors.js';

/** jwt makes an unsigned token with these claims (the client never checks signatures). */
const jwt = (claims) => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;
};

test('welcome permissions: publish unless false, admin only if true', () => {
  assert.deepEqual(permissionsOf({}), { publish: true, admin: false });
  assert.deepEqual(permissionsOf({ permissions: { publish: false, admin: true } }), { publish: false, admin: true });
  assert.deepEqual(permissionsOf({ permissions: { publish: 'no', admin: 'yes' } }), { publish: true, admin: false });
  assert.deepEqual(permissionsOf(null), { publish: true, admin: false });
});

test('a token hints at the permissions before the welcome', () => {
  assert.deepEqual(tokenHint(jwt({ room: 'r', publish: false, exp: 1 })), { publish: false, admin: false });
  assert.deepEqual(tokenHint(jwt({ room: 'r', admin: true, name: 'Zoë ☕' })), { publish: true, admin: true });
  for (const bad of ['', 'x', 'a.b', 'a.!!!.c', `a.${Buffer.from('[1').toString('base64url')}.c`, 42, null]) {
    assert.equal(tokenHint(bad), null, String(bad));
  }
});

test('participant roles and their labels', () => {
  assert.deepEqual(roleOf({ id: 'a' }), { viewer: false, moderator: false });
  assert.deepEqual(roleOf({ id: 'a', viewer: true, moderator: 'yes' }), { viewer: true, moderator: false });
  assert.deepEqual(roleLabels({ viewer: true, moderator: true }), ['Moderator', 'Viewer']);
  assert.deepEqual(roleLabels({}), []);
  const r = new Roles();
  r.reset([{ id: 'v', viewer: true }, { id: 'm', moderator: true }]);
  assert.equal(r.viewer('v'), true);
  assert.equal(r.viewer('m'), false);
  assert.equal(r.viewer('nobody'), false);
  assert.equal(r.set({ id: 'm', moderator: true }), false, 'unchanged');
  assert.equal(r.set({ id: 'm', moderator: true, viewer: true }), true, 'changed');
  assert.equal(r.set({}), false);
  r.delete('v');
  assert.equal(r.viewer('v'), false);
});

test('a viewer\'s media buttons are disabled and say why', () => {
  assert.deepEqual(mediaControls({ publish: true, admin: false }), { disabled: false, title: '' });
  const c = mediaControls({ publish: false, admin: true });
  assert.equal(c.disabled, true);
  assert.equal(c.title, VIEWER_TITLE);
  assert.match(c.title, /viewer/);
});

test('moderation errors and removals read as sentences', () => {
  assert.equal(errorText({ code: 'forbidden', message: 'only a moderator can do that' }),
    'You are not allowed to do that: only a moderator can do that.');
  const { title, text } = endText('kicked', 'Ada removed you from the room');
  assert.match(title, /removed/);
  assert.match(text, /^Ada removed you from the room\. /);
  assert.match(endText('kicked').text, /^An administrator removed you/);
  assert.match(endText('kicked', 'you were removed from the room by an administrator').text, /^You were removed/);
});
