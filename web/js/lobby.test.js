import test from 'node:test';
import assert from 'node:assert/strict';
import { lobbyHelp, browserOf } from './lobby.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0';

test('browserOf tells the families apart', () => {
  assert.equal(browserOf(CHROME), 'chrome');
  assert.equal(browserOf(FIREFOX), 'firefox');
  assert.equal(browserOf('Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/18.0 Safari/605.1.15'), 'safari');
  assert.equal(browserOf(`${CHROME} Edg/156.0`), 'edge');
});

test('lobbyHelp says which device, why, how to fix it in this browser, and never speaks of a call', () => {
  assert.equal(lobbyHelp({ cam: null, mic: null }, CHROME), '');
  const blocked = lobbyHelp({ cam: 'denied', mic: 'denied' }, CHROME);
  assert.match(blocked, /^Your browser blocked the camera and microphone for this site\./);
  assert.match(blocked, /In Chrome: .*Try again/);
  assert.doesNotMatch(blocked, /in the call|buttons below|not found/i);
  assert.match(lobbyHelp({ cam: 'denied', mic: null }, FIREFOX), /blocked the camera .*In Firefox.*sound only/);
  const missing = lobbyHelp({ cam: 'missing', mic: null }, CHROME);
  assert.match(missing, /No camera was found/);
  assert.doesNotMatch(missing, /blocked|In Chrome/);
  assert.match(lobbyHelp({ cam: 'busy', mic: 'missing' }, CHROME), /camera is in use.*No microphone was found/);
});
