import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkify } from './chat.js';

test('plain text stays one text part, HTML included', () => {
  assert.deepEqual(linkify('<img src=x onerror=alert(1)>'), [{ text: '<img src=x onerror=alert(1)>' }]);
  assert.deepEqual(linkify(''), []);
});

test('http and https URLs become links; sentence punctuation stays out', () => {
  assert.deepEqual(linkify('see https://example.org/a?b=1, and http://x.test.'), [
    { text: 'see ' },
    { text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
    { text: ', and ' },
    { text: 'http://x.test', href: 'http://x.test/' },
    { text: '.' },
  ]);
});

test('no other schemes become links', () => {
  for (const s of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'ftp://x.test/', 'vbscript:x']) {
    assert.ok(linkify(s).every((p) => !('href' in p)), s);
  }
});

test('a URL with quotes or angle brackets ends there', () => {
  const parts = linkify('https://e.test/"><script>');
  assert.equal(parts[0].href, 'https://e.test/');
  assert.equal(parts.map((p) => p.text).join(''), 'https://e.test/"><script>');
});
