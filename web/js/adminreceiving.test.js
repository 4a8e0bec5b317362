import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receivingText, formatRate, frameRateText } from './adminreceiving.js';

test('formatRate', () => {
  assert.equal(formatRate(1_234_567), '1.2 Mbit/s');
  assert.equal(formatRate(345_600), '346 kbit/s');
});

test('receivingText names publishers and says why video is paused', () => {
  const people = [{ id: 'g1', name: 'Grace' }, { id: 'l1', name: 'Linus' }];
  const text = receivingText({
    estimate: 1_500_000,
    video: [
      { peer: 'g1', layer: 1, rid: 'h', layers: 3 },
      { peer: 'l1', layer: -1, layers: 3, paused: 'bandwidth' },
      { peer: 'x9', layer: -1, layers: 1, paused: 'view' },
      { peer: 'g1', layer: 0, layers: 1 },
      { peer: 'l1', layer: 0, rid: 'q', layers: 3, temporal: 0, temporals: 3 },
      { peer: 'l1', layer: 0, layers: 1, temporal: 1, temporals: 3 },
    ],
  }, people);
  assert.equal(text, '1.5 Mbit/s · Grace: h (2/3) · Linus: paused (bandwidth) · x9: hidden · Grace: video'
    + ' · Linus: q (1/3, 1/4 frame rate) · Linus: video (1/2 frame rate)');
  assert.equal(receivingText({ estimate: 0 }, people), 'no estimate');
});

test('frameRateText: each temporal layer left out halves the frame rate', () => {
  assert.equal(frameRateText(2, 3), '');
  assert.equal(frameRateText(1, 3), '1/2 frame rate');
  assert.equal(frameRateText(0, 3), '1/4 frame rate');
  assert.equal(frameRateText(0, 1), '');
});
