import test from 'node:test';
import assert from 'node:assert/strict';
import { pausedTracks, pausedTiles, MAX_PAUSED, simulcastFor, vp8TemporalLayers } from './sfu.js';

test('pausedTracks keeps the bandwidth pauses of a `paused` payload', () => {
  const got = pausedTracks([
    { track: 'v1', reason: 'bandwidth' },
    { track: 'v2', reason: 'other' },
    { track: '', reason: 'bandwidth' },
    { track: 7, reason: 'bandwidth' },
    null,
    'v3',
    { track: 'v4', reason: 'bandwidth' },
  ]);
  assert.deepEqual([...got], ['v1', 'v4']);
});

test('pausedTracks: an empty list or no list means nothing paused', () => {
  assert.equal(pausedTracks([]).size, 0);
  assert.equal(pausedTracks(undefined).size, 0);
  assert.equal(pausedTracks({ track: 'v1', reason: 'bandwidth' }).size, 0);
});

test('pausedTracks reads at most MAX_PAUSED entries', () => {
  const list = Array.from({ length: MAX_PAUSED + 10 }, (_, i) => ({ track: `v${i}`, reason: 'bandwidth' }));
  assert.equal(pausedTracks(list).size, MAX_PAUSED);
});

test('pausedTiles maps tracks to tiles, once each, skipping unknown owners', () => {
  const owners = new Map([['cam-a', 'a'], ['scr-a', 'a'], ['cam-b', 'b']]);
  const tiles = pausedTiles(['cam-a', 'scr-a', 'cam-b', 'gone'], (t) => owners.get(t), (t) => (t.startsWith('scr') ? 'screen' : 'camera'));
  assert.deepEqual(tiles, [
    { peerId: 'a', role: 'camera' },
    { peerId: 'a', role: 'screen' },
    { peerId: 'b', role: 'camera' },
  ]);
});

test('simulcastFor: as many layers as the capture allows, the top one at full size', () => {
  assert.deepEqual(simulcastFor(720).map((e) => e.rid), ['q', 'h', 'f']);
  assert.deepEqual(simulcastFor(540).map((e) => e.rid), ['q', 'h', 'f']);
  assert.deepEqual(simulcastFor(360).map((e) => [e.rid, e.scaleResolutionDownBy]), [['h', 2], ['f', 1]]);
  assert.deepEqual(simulcastFor(270).map((e) => e.rid), ['h', 'f']);
  assert.equal(simulcastFor(180), null);
  assert.deepEqual(simulcastFor(0).map((e) => e.rid), ['h', 'f'], 'unknown: as for 360 lines');
  const a = simulcastFor(720);
  a[0].active = false;
  assert.equal(simulcastFor(720)[0].active, undefined, 'fresh objects each time');
});

test('simulcastFor with temporal layers: L1T3 on every encoding', () => {
  assert.deepEqual(simulcastFor(720, true).map((e) => e.scalabilityMode), ['L1T3', 'L1T3', 'L1T3']);
  assert.equal(simulcastFor(720)[0].scalabilityMode, undefined);
  assert.equal(simulcastFor(180, true), null);
});

test('vp8TemporalLayers: only when VP8 lists L1T3', () => {
  const caps = (codecs) => ({ getCapabilities: () => ({ codecs }) });
  assert.equal(vp8TemporalLayers(caps([{ mimeType: 'video/VP8', scalabilityModes: ['L1T1', 'L1T2', 'L1T3'] }])), true);
  assert.equal(vp8TemporalLayers(caps([{ mimeType: 'video/VP8' }, { mimeType: 'video/VP9', scalabilityModes: ['L1T3'] }])), false);
  assert.equal(vp8TemporalLayers(caps([])), false);
  assert.equal(vp8TemporalLayers({}), false);
  assert.equal(vp8TemporalLayers(undefined), false);
});
