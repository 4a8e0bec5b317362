import test from 'node:test';
import assert from 'node:assert/strict';
import { mediaVerdict, MediaWatch, trackCounts, MEDIA_STALE_MS, MEDIA_GRACE_MS } from './mediastate.js';
import { STATS_TIMEOUT_MS } from './stats.js';

const base = { name: 'Bo', expectVideo: true, expectAudio: true, lastVideo: 0, lastAudio: 0, since: 1000, now: 1000 };

test('nothing expected: off, nothing to say', () => {
  assert.deepEqual(mediaVerdict({ ...base, expectVideo: false, expectAudio: false }), { state: 'off', text: '', note: false });
});

test('nothing arrived yet: waiting, the sentence only after the grace period', () => {
  const v = mediaVerdict(base);
  assert.equal(v.state, 'waiting');
  assert.equal(v.text, 'No picture or sound from Bo yet');
  assert.equal(v.note, false);
  assert.equal(mediaVerdict({ ...base, now: base.since + MEDIA_GRACE_MS }).note, true);
});

test('video or audio arriving: flowing', () => {
  assert.equal(mediaVerdict({ ...base, now: 5000, lastVideo: 4000 }).state, 'flowing');
  assert.equal(mediaVerdict({ ...base, now: 5000, lastAudio: 4000 }).state, 'flowing');
  // Audio only counts when it is expected (a muted microphone may still send silence).
  assert.equal(mediaVerdict({ ...base, expectAudio: false, now: 5000, lastAudio: 4000 }).state, 'waiting');
});

test('media that stopped: stalled', () => {
  const v = mediaVerdict({ ...base, now: 4000 + MEDIA_STALE_MS + 1, lastVideo: 4000, lastAudio: 4000 });
  assert.equal(v.state, 'stalled');
  assert.equal(v.text, 'No picture or sound from Bo right now');
});

test('the link watchdog knows why: its sentence is used', () => {
  const link = { state: 'trying', text: "Can't connect directly to Bo — trying another way" };
  const v = mediaVerdict({ ...base, link });
  assert.equal(v.state, 'waiting');
  assert.equal(v.text, link.text);
  // A link note does not make flowing media look broken.
  assert.equal(mediaVerdict({ ...base, link, now: 5000, lastVideo: 4500 }).state, 'flowing');
});

test('MediaWatch follows counts per track and reports changes only', async () => {
  let now = 0;
  const counts = new Map();
  const got = [];
  const who = [{ id: 'b', name: 'Bo', expectVideo: true, expectAudio: true, tracks: { video: ['v1'], audio: ['a1'] } }];
  const w = new MediaWatch({
    participants: () => who,
    sample: async () => counts,
    onVerdict: (id, v) => got.push([id, v.state, v.note]),
    now: () => now,
  });
  await w.tick();
  now = MEDIA_GRACE_MS;
  await w.tick(); // still nothing: the sentence is due
  counts.set('v1', 3);
  now += 1000;
  await w.tick(); // frames
  now += 1000;
  counts.set('v1', 6);
  await w.tick(); // more frames: no change to report
  now += MEDIA_STALE_MS + 1000;
  await w.tick(); // the counts stopped
  assert.deepEqual(got, [['b', 'waiting', false], ['b', 'waiting', true], ['b', 'flowing', false], ['b', 'stalled', true]]);
});

test('MediaWatch: a new path whose counts start again is not a stall', async () => {
  let now = 1;
  const counts = new Map([['v1', 100]]);
  const who = [{ id: 'b', name: 'Bo', expectVideo: true, expectAudio: false, tracks: { video: ['v1'], audio: [] } }];
  const states = [];
  const w = new MediaWatch({ participants: () => who, sample: async () => counts, onVerdict: (_, v) => states.push(v.state), now: () => now });
  await w.tick();
  // The tile moved to the SFU: another track, counting from 0.
  who[0].tracks.video = ['v2'];
  counts.set('v2', 0);
  now += 1000;
  await w.tick();
  counts.set('v2', 4);
  now += 1000;
  await w.tick();
  assert.deepEqual(states, ['flowing']);
});

test('MediaWatch forgets participants who left', async () => {
  const who = [{ id: 'b', name: 'Bo', expectVideo: true, expectAudio: true, tracks: { video: [], audio: [] } }];
  const w = new MediaWatch({ participants: () => who, sample: async () => new Map(), onVerdict: () => {}, now: () => 0 });
  await w.tick();
  who.length = 0;
  await w.tick();
  assert.equal(w.seen.size, 0);
});

test('trackCounts: a connection whose stats never answer is skipped, the others still read', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const pc = (getStats) => /** @type {any} */ ({
    connectionState: 'connected', getStats, getTransceivers: () => [], getReceivers: () => [],
  });
  // Firefox leaves getStats pending for good when the connection closes under it (stats.js).
  const lost = pc(() => new Promise(() => {}));
  const live = pc(async () => new Map([['r', { type: 'inbound-rtp', kind: 'video', trackIdentifier: 'v1', framesDecoded: 42 }]]));
  const problems = [];
  const counts = trackCounts([lost, live], new Set(['v1']), problems);
  t.mock.timers.tick(STATS_TIMEOUT_MS);
  assert.deepEqual([...(await counts)], [['v1', 42]]);
  assert.match(problems.join(), /did not answer/);
});
