import test from 'node:test';
import assert from 'node:assert/strict';
import { ROOM_RE, randomRoomName, parseRoomInput, nameProblem } from './rooms.js';

test('random room names are readable and valid', () => {
  const seen = new Set();
  for (let i = 0; i < 500; i++) {
    const n = randomRoomName();
    assert.match(n, /^[a-z]+-[a-z]+-[1-9][0-9]$/);
    assert.ok(ROOM_RE.test(n), n);
    seen.add(n);
  }
  assert.ok(seen.size > 450, `only ${seen.size} distinct names in 500`);
});

test('randomRoomName uses the given random source', () => {
  assert.equal(randomRoomName(() => 0), 'amber-badger-10');
});

test('parseRoomInput accepts names and invite links', () => {
  for (const [input, room] of [
    ['standup', 'standup'],
    ['  brave-otter-42 ', 'brave-otter-42'],
    ['A_b-9', 'A_b-9'],
    ['x'.repeat(64), 'x'.repeat(64)],
    ['/r/team', 'team'],
    ['r/team', 'team'],
    ['https://meet.example.org/r/team', 'team'],
    ['http://localhost:8080/r/team?name=Ada#k=secret', 'team'],
    ['https://meet.example.org/r/team/', 'team'],
  ]) {
    assert.deepEqual(parseRoomInput(input), { room }, input);
  }
});

test('parseRoomInput explains refusals', () => {
  assert.match(parseRoomInput('').error, /Type a room name/);
  assert.match(parseRoomInput('   ').error, /Type a room name/);
  assert.match(parseRoomInput('x'.repeat(65)).error, /at most 64 characters \(this one has 65\)/);
  assert.match(parseRoomInput('my room').error, /not spaces/);
  assert.match(parseRoomInput('café!').error, /“é”, “!”/);
  assert.match(parseRoomInput('https://x.org/r/').error, /Type a room name|only use/);
});

test('nameProblem mirrors the server rule', () => {
  assert.equal(nameProblem('Ada'), '');
  assert.equal(nameProblem('  Ada  '), '');
  assert.equal(nameProblem('😀'.repeat(64)), '');
  assert.match(nameProblem(''), /enter your name/);
  assert.match(nameProblem('   '), /enter your name/);
  assert.match(nameProblem('😀'.repeat(65)), /at most 64/);
  assert.match(nameProblem('a\u0007b'), /control/);
  assert.match(nameProblem('a\u202eb'), /control/);
});

test('nameProblem refuses names that draw nothing, as the server does', () => {
  for (const blank of ['\u3164', '\u2800\u2800', '\u200b', '\u200e\u200f', '\u115f\u1160\uffa0',
    '\u2800\u00a0\u3164', '\u0301', '\u2060\u180e', '\u{e0041}', '\ufe0f']) {
    assert.match(nameProblem(blank), /visible character/, JSON.stringify(blank));
  }
  for (const ok of ['\u3164A', '\u200fعلي', '·', '李', '7', 'é\u200b', '\u2800🙂']) {
    assert.equal(nameProblem(ok), '', JSON.stringify(ok));
  }
});
