import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { shortcutFor, SHORTCUTS } from './shortcuts.js';

test('single keys press their buttons; not while typing, not with modifiers, not when turned off (except ?)', () => {
  assert.equal(shortcutFor({ key: 'm' }, false, true).button, 'mic-toggle');
  assert.equal(shortcutFor({ key: 'M' }, false, true).button, 'mic-toggle');
  assert.equal(shortcutFor({ key: 'l' }, false, true).action, 'layout');
  assert.equal(shortcutFor({ key: 'm' }, true, true), null, 'typing in a field');
  assert.equal(shortcutFor({ key: 'm', ctrlKey: true }, false, true), null);
  assert.equal(shortcutFor({ key: 'v', metaKey: true }, false, true), null);
  assert.equal(shortcutFor({ key: 'm' }, false, false), null, 'turned off');
  assert.equal(shortcutFor({ key: '?' }, false, false).action, 'help', '? still opens the list');
  assert.equal(shortcutFor({ key: 'Enter' }, false, true), null);
  assert.equal(shortcutFor({ key: 'x' }, false, true), null);
});

test('the ? dialog (room.html) lists every shortcut with what it does, and its buttons exist', () => {
  const html = readFileSync(new URL('../html/room.html', import.meta.url), 'utf8');
  for (const s of SHORTCUTS) {
    const row = `<tr><th scope="row"><kbd>${s.key.toUpperCase()}</kbd></th><td>${s.what}</td></tr>`;
    assert.ok(html.includes(row), `room.html has no row ${row}`);
    if (s.button) assert.ok(html.includes(`id="${s.button}"`), `room.html has no #${s.button}`);
  }
});
