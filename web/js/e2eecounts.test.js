// The health report's E2EE counts (docs/protocol.md `stats`): frames that
// fail before their sender's key arrived are reported apart from those
// that fail after it, so the operator's alarm does not fire on every call.
import { test } from 'node:test';
import assert from 'node:assert/strict';

globalThis.RTCRtpScriptTransform ??= function RTCRtpScriptTransform() {};
globalThis.Worker ??= class {
  postMessage() {}
  addEventListener() {}
  terminate() {}
};
const { E2EE } = await import('./e2ee.js');

test('failures before the key are counted apart from failures after it', async () => {
  const e = new E2EE({ signaling: { key() {} }, secret: null });
  const p = e.peer('p'); // the sender, as the controller records it
  const stats = (decrypted, failed) => e.onWorker({ type: 'stats', encrypted: 0, dropped: 0, peers: { p: { decrypted, failed } } });

  stats(0, 29); // the frames that beat the key
  p.leaf = 1; // the peer joins the MLS group: its keys arrive
  stats(0, 31); // frames of the same batch window: still counted as before the key
  stats(500, 31); // decrypting now
  stats(900, 34); // 3 failures with a key: an alarm
  assert.deepEqual(e.takeCounts(), { decrypted: 900, failed: 3, beforeKey: 31 });
  assert.deepEqual(e.takeCounts(), { decrypted: 0, failed: 0, beforeKey: 0 });
  e.close();
});

test('failures under an epoch that has not reached us yet are not an alarm', async () => {
  const e = new E2EE({ signaling: { key() {} }, secret: null });
  const p = e.peer('p');
  const stats = (decrypted, failed, early) =>
    e.onWorker({ type: 'stats', encrypted: 0, dropped: 0, peers: { p: { decrypted, failed, early } } });
  p.leaf = 1;
  stats(100, 0, 0);
  stats(200, 12, 12); // someone joined: p's frames under the new epoch beat its commit to us
  stats(300, 14, 12); // 2 failures under an epoch we have: an alarm
  assert.deepEqual(e.takeCounts(), { decrypted: 300, failed: 2, beforeKey: 12 });
  // A duplicate the replay check dropped is no key problem either.
  e.onWorker({ type: 'stats', encrypted: 0, dropped: 0, peers: { p: { decrypted: 400, failed: 17, early: 12, replayed: 3 } } });
  assert.deepEqual(e.takeCounts(), { decrypted: 100, failed: 0, beforeKey: 3 });
  e.close();
});
