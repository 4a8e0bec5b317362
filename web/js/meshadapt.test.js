import test from 'node:test';
import assert from 'node:assert/strict';
import { encodingFor, parseReport, FULL_BITRATE, MIN_BITRATE, MAX_SCALE } from './meshadapt.js';

const cam = { width: 1280, height: 720 };

test('no report yet: full size, full bitrate', () => {
  assert.deepEqual(encodingFor(null, cam), { active: true, scaleResolutionDownBy: 1, maxBitrate: FULL_BITRATE });
});

test('a hidden or empty tile gets nothing', () => {
  assert.equal(encodingFor({ width: 640, height: 360, visible: false }, cam).active, false);
  assert.equal(encodingFor({ width: 0, height: 0, visible: true }, cam).active, false);
});

test('the largest power-of-two downscale that still fills the tile (25 % slack)', () => {
  const scale = (w, h) => encodingFor({ width: w, height: h, visible: true }, cam).scaleResolutionDownBy;
  assert.equal(scale(1280, 720), 1);
  assert.equal(scale(1920, 1080), 1); // larger than the camera: never upscale
  assert.equal(scale(800, 450), 2); // 640×360 is within 25 % of 800×450
  assert.equal(scale(900, 506), 1); // 640×360 would be too small
  assert.equal(scale(320, 180), 4);
  assert.equal(scale(288, 162), 4); // a 144-px-wide tile at DPR 2
  assert.equal(scale(80, 45), MAX_SCALE);
  // The smaller ratio decides: a tall tile needs the height.
  assert.equal(scale(320, 720), 1);
});

test('bitrate follows the pixels sent, never below MIN_BITRATE', () => {
  const rate = (w, h) => encodingFor({ width: w, height: h, visible: true }, cam).maxBitrate;
  assert.equal(rate(1280, 720), FULL_BITRATE);
  assert.equal(rate(640, 360), FULL_BITRATE / 4);
  assert.equal(rate(80, 45), MIN_BITRATE);
});

test('scale is relative to the camera: a small camera is not scaled below the tile', () => {
  const small = { width: 320, height: 180 };
  assert.equal(encodingFor({ width: 80, height: 45, visible: true }, small).scaleResolutionDownBy, 4);
  assert.equal(encodingFor({ width: 320, height: 180, visible: true }, small).scaleResolutionDownBy, 1);
  assert.equal(encodingFor({ width: 320, height: 180, visible: true }, {}).scaleResolutionDownBy, 4); // unknown: 720p
});

test('parseReport accepts {w, h, v} and refuses the rest', () => {
  assert.deepEqual(parseReport('{"w":640,"h":360,"v":true}'), { width: 640, height: 360, visible: true });
  assert.deepEqual(parseReport('{"w":99999,"h":0,"v":false}'), { width: 16384, height: 0, visible: false });
  for (const bad of ['', 'x', '[]', '{"w":1,"h":1}', '{"w":-1,"h":1,"v":true}', '{"w":1.5,"h":1,"v":true}', '{"w":"1","h":1,"v":true}', 7, null, 'x'.repeat(300)]) {
    assert.equal(parseReport(bad), null, String(bad));
  }
});
