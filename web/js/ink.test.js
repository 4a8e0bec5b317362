import test from 'node:test';
import assert from 'node:assert/strict';
import { InkStrokes, InkPen, INK_IDLE_MS, INK_FADE_MS, INK_MAX_POINTS, INK_MAX_STROKES, INK_BATCH_MS } from './ink.js';
import { encode, decode, identitySealer, MAX_INK_BATCH } from './envelope.js';

test('strokes grow by batches, stay, then fade and go', () => {
  const ink = new InkStrokes();
  ink.add('bob', { screen: 'alice', id: 1, pts: [0.1, 0.1, 0.2, 0.2] }, 0);
  const s = ink.add('bob', { screen: 'alice', id: 1, pts: [0.3, 0.3] }, 100);
  assert.deepEqual(s.pts, [0.1, 0.1, 0.2, 0.2, 0.3, 0.3]);
  assert.equal(ink.on('alice').length, 1);
  assert.equal(ink.on('carol').length, 0);
  assert.equal(InkStrokes.alpha(s, 100 + INK_IDLE_MS), 1);
  assert.equal(InkStrokes.alpha(s, 100 + INK_IDLE_MS + INK_FADE_MS / 2), 0.5);
  assert.equal(ink.prune(100 + INK_IDLE_MS + INK_FADE_MS / 2), true);
  assert.equal(ink.prune(100 + INK_IDLE_MS + INK_FADE_MS), false);
  assert.equal(ink.strokes.size, 0);
});

test('a sender cannot grow memory without bound', () => {
  const ink = new InkStrokes();
  const many = Array.from({ length: 2 * MAX_INK_BATCH }, () => 0.5);
  let s;
  for (let i = 0; i < INK_MAX_POINTS; i++) s = ink.add('bob', { screen: 'a', id: 1, pts: many }, 0);
  assert.equal(s.pts.length, 2 * INK_MAX_POINTS);
  for (let id = 2; id < INK_MAX_STROKES + 10; id++) ink.add('bob', { screen: 'a', id, pts: [0, 0, 1, 1] }, 0);
  assert.equal(ink.strokes.size, INK_MAX_STROKES);
  assert.ok(!ink.strokes.has('bob\n1'), 'the oldest stroke went first');
});

test('the pen sends batches of at least two points; a click sends nothing', async () => {
  const sent = [];
  const pen = new InkPen((p) => sent.push(p));
  pen.down('alice', 0.5, 0.5);
  pen.up();
  assert.deepEqual(sent, [], 'a click is not a stroke');
  pen.down('alice', 0.1, 0.1);
  pen.move(0.2, 0.2);
  pen.move(0.3, 0.3);
  await new Promise((r) => setTimeout(r, INK_BATCH_MS + 20));
  pen.move(0.4, 0.4);
  pen.up();
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[0], { screen: 'alice', id: 2, pts: [0.1, 0.1, 0.2, 0.2, 0.3, 0.3] });
  assert.deepEqual(sent[1], { screen: 'alice', id: 2, pts: [0.4, 0.4] });
  // A long drag is cut into batches the envelope accepts.
  pen.down('alice', 0, 0);
  for (let i = 1; i < 3 * MAX_INK_BATCH; i++) pen.move(i / 1000, i / 1000);
  pen.up();
  for (const p of sent.slice(2)) {
    const m = await decode(await encode({ from: 'bob', type: 'ink', payload: p }), identitySealer, { self: 'alice' });
    assert.ok(m, `batch of ${p.pts.length / 2} points refused`);
  }
  assert.equal(sent.slice(2).reduce((n, p) => n + p.pts.length / 2, 0), 3 * MAX_INK_BATCH);
});

test('ink messages out of range are refused', async () => {
  for (const payload of [
    { screen: 'a', id: 1, pts: [0.1] },
    { screen: 'a', id: 1, pts: [0.1, 1.5] },
    { screen: 'a', id: -1, pts: [0.1, 0.1] },
    { screen: '', id: 1, pts: [0.1, 0.1] },
    { screen: 'a', id: 1, pts: Array.from({ length: 2 * MAX_INK_BATCH + 2 }, () => 0.1) },
  ]) {
    await assert.rejects(encode({ from: 'bob', type: 'ink', payload }), /invalid ink/);
  }
});
