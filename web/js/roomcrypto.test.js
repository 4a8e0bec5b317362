import test from 'node:test';
import assert from 'node:assert/strict';
import { decide, refusalText } from './roomcrypto.js';

const base = { said: true, started: false, encrypting: true, canEncrypt: true, secret: false, wasEncrypted: false };

test('anything but an explicit false is an encrypted room', () => {
  for (const said of [true, undefined, null, 'false', 0, {}]) {
    assert.equal(decide({ ...base, said }), 'encrypt', String(said));
  }
});

test('a browser without encoded transforms cannot join an encrypted room', () => {
  assert.equal(decide({ ...base, canEncrypt: false, encrypting: false }), 'refuse-unsupported');
  assert.equal(decide({ ...base, canEncrypt: false, encrypting: false, said: false }), 'plain');
});

test('an unencrypted room is joined only at the start, without invite secret, on a page never encrypted there', () => {
  assert.equal(decide({ ...base, said: false }), 'plain');
  assert.equal(decide({ ...base, said: false, secret: true }), 'refuse-invite');
  assert.equal(decide({ ...base, said: false, wasEncrypted: true }), 'refuse-downgrade');
});

test('a call that started encrypted never stops encrypting', () => {
  assert.equal(decide({ ...base, said: false, started: true }), 'keep-encrypting');
  assert.equal(decide({ ...base, said: false, started: true, secret: true }), 'keep-encrypting');
});

test('an unencrypted call that the room makes encrypted joins again, encrypted', () => {
  assert.equal(decide({ ...base, started: true, encrypting: false }), 'rejoin');
  assert.equal(decide({ ...base, said: false, started: true, encrypting: false }), 'plain');
});

test('every refusal has a title and a text', () => {
  for (const code of ['refuse-invite', 'refuse-downgrade', 'refuse-unsupported']) {
    const r = refusalText(code);
    assert.ok(r?.title && r?.text, code);
  }
  assert.equal(refusalText('kicked'), null);
});
