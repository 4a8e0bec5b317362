import test from 'node:test';
import assert from 'node:assert/strict';
import {
  SpeakingDetector, MutedTalk, pickActive, levelFromStats, ON_LEVEL, OFF_LEVEL, HOLD_MS, SWITCH_MS, POLL_MS, MUTED_TALK_MS, MUTED_HINT_EVERY_MS,
} from './speaking.js';

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

/** talk feeds m a level every POLL_MS from `from` to `to` (ms), loud when loud(t); returns when it said to hint. */
function talk(m, from, to, loud, muted = true) {
  const hints = [];
  for (let t = from; t < to; t += POLL_MS) if (m.update(loud(t) ? ON_LEVEL * 3 : 0, muted, t)) hints.push(t);
  return hints;
}

test('"you are muted" after MUTED_TALK_MS of talking into a muted microphone, pauses included', () => {
  // Short bursts with a quiet poll between them (a test microphone's beeps,
  // or words): one talking spell, so the hint comes.
  const m = new MutedTalk();
  const hints = talk(m, 0, 5000, (t) => (t / POLL_MS) % 3 !== 2);
  assert.equal(hints.length, 1, `hints at ${hints}`);
  assert.ok(hints[0] >= MUTED_TALK_MS && hints[0] <= MUTED_TALK_MS + 2 * POLL_MS, `hint at ${hints[0]} ms`);
  // Still talking: not again before MUTED_HINT_EVERY_MS.
  assert.deepEqual(talk(m, 5000, hints[0] + MUTED_HINT_EVERY_MS, () => true), []);
  assert.equal(talk(m, hints[0] + MUTED_HINT_EVERY_MS, hints[0] + MUTED_HINT_EVERY_MS + POLL_MS, () => true).length, 1, 'again after MUTED_HINT_EVERY_MS');
});

test('no "you are muted" while unmuted, when quiet, or for a cough', () => {
  const m = new MutedTalk();
  assert.deepEqual(talk(m, 0, 5000, () => true, false), [], 'unmuted');
  assert.deepEqual(talk(m, 5000, 10000, () => false), [], 'muted and quiet');
  assert.deepEqual(talk(m, 10000, 10000 + MUTED_TALK_MS, () => true), [], 'a cough');
  // Unmuting ends the spell: talking muted again counts from zero.
  m.update(0, false, 11000);
  assert.deepEqual(talk(m, 11000 + POLL_MS, 11000 + POLL_MS + MUTED_TALK_MS - 1, () => true), []);
});
