import test from 'node:test';
import assert from 'node:assert/strict';
import { SpeakingDetector, pickActive, levelFromStats, ON_LEVEL, OFF_LEVEL, HOLD_MS, SWITCH_MS } from './speaking.js';

test('talking starts above ON_LEVEL and ends only after HOLD_MS below OFF_LEVEL', () => {
  const d = new SpeakingDetector();
  assert.equal(d.update('a', OFF_LEVEL / 2, 0), false);
  assert.equal(d.update('a', ON_LEVEL * 2, 100), true);
  assert.equal(d.update('a', (ON_LEVEL + OFF_LEVEL) / 2, 400), true, 'between the levels: no change');
  assert.equal(d.update('a', 0, 500), true, 'a pause between words');
  assert.equal(d.update('a', 0, 400 + HOLD_MS - 1), true);
  assert.equal(d.update('a', 0, 400 + HOLD_MS), false);
  assert.equal(d.update('b', (ON_LEVEL + OFF_LEVEL) / 2, 0), false, 'never above ON_LEVEL: silent');
});

test('the active speaker changes only to someone who talked SWITCH_MS, and stays while they talk', () => {
  const d = new SpeakingDetector();
  d.update('a', 1, 0);
  assert.equal(pickActive('', ['a', 'b'], d, 0), '', 'not yet long enough');
  assert.equal(pickActive('', ['a', 'b'], d, SWITCH_MS), 'a');
  d.update('b', 1, SWITCH_MS);
  assert.equal(pickActive('a', ['a', 'b'], d, SWITCH_MS * 3), 'a', 'a still talks');
  d.update('a', 0, SWITCH_MS * 3 + HOLD_MS * 2);
  assert.equal(pickActive('a', ['a', 'b'], d, SWITCH_MS * 3 + HOLD_MS * 2), 'b');
  assert.equal(pickActive('b', ['a'], d, SWITCH_MS * 4), '', 'b left and nobody talks long enough');
});

test('levelFromStats is the RMS since the last sample, or audioLevel without one', () => {
  assert.equal(levelFromStats({ audioLevel: 0.3 }, undefined), 0.3);
  const lvl = levelFromStats({ totalAudioEnergy: 0.01 + 0.04 * 0.25, totalSamplesDuration: 1.25 }, { totalAudioEnergy: 0.01, totalSamplesDuration: 1 });
  assert.ok(Math.abs(lvl - 0.2) < 1e-9, `${lvl}`);
});
