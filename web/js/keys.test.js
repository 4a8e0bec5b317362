// The encoding helpers of keys.js (the key schedule is tested in mls.test.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { b64 } from './keys.js';

test('b64: base64url without padding round-trips; garbage throws', () => {
  for (const n of [0, 1, 2, 3, 16, 33]) {
    const b = crypto.getRandomValues(new Uint8Array(n));
    const s = b64.encode(b);
    assert.doesNotMatch(s, /[+/=]/);
    assert.deepEqual(b64.decode(s), b);
  }
  assert.throws(() => b64.decode('not base64!'));
  assert.throws(() => b64.decode(7));
});
