import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  Outgoing, Incoming, chunkCount, fileRoot, rootOf, sha256, hex, displayName,
} from './filechunks.js';

const CHUNK = 1024;

function randomBlob(size) {
  const b = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(size, off + 65536)));
  return { blob: new Blob([b], { type: 'application/x-test' }), bytes: b };
}

const nodeSha = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * link wires an Outgoing to an Incoming through a fake channel. tamper(i,
 * data) may change or drop (return null) a chunk in flight.
 */
function link(blob, { tamper = (_i, d) => d, route = () => 'mesh', accept = true } = {}) {
  let incoming;
  const sent = [];
  const out = new Outgoing({
    id: 'f1',
    file: blob,
    to: 'bob',
    chunk: CHUNK,
    route,
    stallMs: 200,
    send: async (type, p, data) => {
      sent.push(type);
      await Promise.resolve(); // delivered asynchronously, in order
      if (type === 'file-chunk') {
        const d = tamper(p.i, data);
        if (d) incoming.receive(p.i, d);
      } else if (type === 'file-end') await incoming.end(p.n, p.root);
      else if (type === 'file-cancel') incoming.cancel(false, p.reason);
    },
  });
  incoming = new Incoming({
    offer: out.offer(),
    from: 'ada',
    send: async (type, p) => {
      await Promise.resolve();
      if (type === 'file-accept') out.accept();
      else if (type === 'file-decline') out.decline();
      else if (type === 'file-ack') out.ack(p.next, p.resync);
      else if (type === 'file-cancel') out.cancel(false, p.reason);
    },
  });
  const settled = Promise.all([out, incoming].map((t) => new Promise((resolve) => {
    t.addEventListener('change', () => {
      if (t.finished) resolve(t.state);
    });
  })));
  if (accept) incoming.accept();
  return { out, incoming, settled, sent };
}

test('chunk counts', () => {
  assert.equal(chunkCount(0, CHUNK), 0);
  assert.equal(chunkCount(1, CHUNK), 1);
  assert.equal(chunkCount(CHUNK, CHUNK), 1);
  assert.equal(chunkCount(CHUNK + 1, CHUNK), 2);
});

test('the root is SHA-256 over the chunk digests', async () => {
  const { blob, bytes } = randomBlob(2.5 * CHUNK);
  const digests = [0, 1, 2].map((i) => createHash('sha256').update(bytes.subarray(i * CHUNK, (i + 1) * CHUNK)).digest());
  assert.equal(await fileRoot(blob, CHUNK), nodeSha(Buffer.concat(digests)));
  assert.equal(await rootOf([]), nodeSha(new Uint8Array(0)));
  assert.equal(hex(await sha256(new TextEncoder().encode('abc'))), nodeSha('abc'));
});

test('a file is chunked, reassembled and verified', async () => {
  const { blob, bytes } = randomBlob(100 * CHUNK + 17);
  const { out, incoming, settled } = link(blob);
  assert.deepEqual(await settled, ['done', 'done']);
  assert.equal(out.state, 'done');
  const got = new Uint8Array(await incoming.blob.arrayBuffer());
  assert.equal(got.length, bytes.length);
  assert.equal(nodeSha(got), nodeSha(bytes));
  // The sender's claimed type is not trusted: the Blob never renders as a page.
  assert.equal(incoming.mime, 'application/x-test');
  assert.equal(incoming.blob.type, 'application/octet-stream');
  assert.equal(incoming.progress.fraction, 1);
});

test('an empty file', async () => {
  const { settled, incoming } = link(new Blob([]));
  assert.deepEqual(await settled, ['done', 'done']);
  assert.equal(incoming.blob.size, 0);
});

test('a tampered chunk is detected and nothing is offered', async () => {
  const { blob } = randomBlob(20 * CHUNK);
  const { incoming, out, settled } = link(blob, {
    tamper: (i, d) => {
      if (i !== 7) return d;
      const x = d.slice();
      x[3] ^= 1;
      return x;
    },
  });
  // The receiver fails; the sender hears why (a cancel with the reason).
  assert.deepEqual(await settled, ['cancelled', 'failed']);
  assert.equal(incoming.blob, null);
  assert.match(incoming.error, /SHA-256/);
  assert.match(out.error, /SHA-256/);
});

test('a chunk lost with a closed path is resent and the file is right', async () => {
  const { blob, bytes } = randomBlob(64 * CHUNK);
  let path = 'mesh';
  let lost = 0;
  const { incoming, settled } = link(blob, {
    route: () => path,
    tamper: (i, d) => {
      if (i === 10 && path === 'mesh') {
        path = 'sfu'; // the mesh link closes with chunk 10 (and what follows) in flight
      }
      if (i >= 10 && i < 14 && lost < 4) {
        lost++;
        return null;
      }
      return d;
    },
  });
  assert.deepEqual(await settled, ['done', 'done']);
  assert.equal(nodeSha(new Uint8Array(await incoming.blob.arrayBuffer())), nodeSha(bytes));
});

test('a lost tail chunk is recovered after the stall', async () => {
  const { blob, bytes } = randomBlob(8 * CHUNK);
  let dropped = false;
  const { incoming, settled } = link(blob, {
    tamper: (i, d) => {
      if (i === 7 && !dropped) {
        dropped = true;
        return null;
      }
      return d;
    },
  });
  assert.deepEqual(await settled, ['done', 'done']);
  assert.equal(nodeSha(new Uint8Array(await incoming.blob.arrayBuffer())), nodeSha(bytes));
});

test('a cancel by the receiver stops the sender', async () => {
  const { blob } = randomBlob(200 * CHUNK);
  const { out, incoming, settled } = link(blob, {
    tamper: (i, d) => {
      if (i === 20) incoming.cancel(true, 'no thanks');
      return d;
    },
  });
  assert.deepEqual(await settled, ['cancelled', 'cancelled']);
  assert.ok(out.next < 60, `sender stopped early (at ${out.next})`);
});

test('a declined offer sends nothing', async () => {
  const { blob } = randomBlob(4 * CHUNK);
  const { out, incoming, settled, sent } = link(blob, { accept: false });
  incoming.decline();
  assert.deepEqual(await settled, ['declined', 'declined']);
  assert.equal(out.state, 'declined');
  assert.deepEqual(sent, []);
});

test('the window bounds what is in flight', async () => {
  const { blob } = randomBlob(100 * CHUNK);
  let maxAhead = 0;
  let out;
  ({ out } = link(blob, {
    tamper: (i, d) => {
      maxAhead = Math.max(maxAhead, out.next - out.acked);
      return d;
    },
  }));
  await new Promise((r) => out.addEventListener('change', () => out.finished && r()));
  assert.ok(maxAhead <= out.window, `${maxAhead} chunks ahead`);
});

test('an offer over the cap is recognised', () => {
  const i = new Incoming({ offer: { id: 'x', name: 'big', size: 3 * 1024 ** 3, mime: '', chunk: CHUNK }, from: 'a', send: async () => {}, maxSize: 2 * 1024 ** 3 });
  assert.ok(i.tooLarge);
});

test('offered names lose control and bidirectional formatting characters', () => {
  assert.equal(displayName('invoice\u202Efdp.exe'), 'invoicefdp.exe');
  assert.equal(displayName('a\u0000b\u2066c\u009f'), 'abc');
  assert.equal(displayName('\u202E'), 'file');
});

test('a failed transfer leaves no unhandled rejection from chunks in flight', async () => {
  const unhandled = [];
  const onUnhandled = (r) => unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  try {
    const send = async (type) => {
      await new Promise((r) => setTimeout(r, 5));
      if (type === 'file-chunk') throw new Error('the parley/file channel closed');
    };
    const t = new Outgoing({ id: 'x', file: new Blob([new Uint8Array(20 * CHUNK)]), to: 'b', send, chunk: CHUNK, window: 16 });
    t.accept();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(t.state, 'failed');
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
