// @ts-check
// Room names: generation of readable random names and validation of names
// typed or pasted by people. DOM-free (tested with node --test).

/** The server's rule (docs/protocol.md): 1–64 of A–Z a–z 0–9 - _. */
export const ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;

const ADJECTIVES = [
  'amber', 'bold', 'brave', 'bright', 'calm', 'clever', 'cosy', 'crisp',
  'daring', 'eager', 'fair', 'fancy', 'fond', 'gentle', 'glad', 'golden',
  'grand', 'happy', 'hazel', 'honest', 'jolly', 'keen', 'kind', 'lively',
  'lucky', 'merry', 'mighty', 'misty', 'modest', 'nimble', 'noble', 'polite',
  'proud', 'quick', 'quiet', 'rapid', 'rosy', 'royal', 'rustic', 'sandy',
  'shy', 'silver', 'sleek', 'smart', 'snowy', 'solid', 'sunny', 'swift',
  'tidy', 'tiny', 'vivid', 'warm', 'wise', 'witty', 'zesty', 'young',
];

const ANIMALS = [
  'badger', 'bear', 'beaver', 'bison', 'crane', 'crow', 'deer', 'dingo',
  'dolphin', 'eagle', 'falcon', 'ferret', 'finch', 'fox', 'gecko', 'heron',
  'ibis', 'koala', 'lark', 'lemur', 'lion', 'llama', 'lynx', 'marten',
  'mole', 'moose', 'newt', 'otter', 'owl', 'panda', 'puffin', 'quail',
  'rabbit', 'raven', 'robin', 'seal', 'shrew', 'sparrow', 'stoat', 'swan',
  'tapir', 'tiger', 'toad', 'trout', 'turtle', 'vole', 'walrus', 'weasel',
  'whale', 'wolf', 'wombat', 'wren', 'yak', 'zebra',
];

/** randomInt returns a uniform integer in [0, n) from the platform CSPRNG. */
function randomInt(n) {
  const buf = new Uint32Array(1);
  const limit = Math.floor(0x100000000 / n) * n; // reject the biased tail
  do {
    globalThis.crypto.getRandomValues(buf);
  } while (buf[0] >= limit);
  return buf[0] % n;
}

/**
 * randomRoomName returns a readable name such as "brave-otter-42"
 * (about 300,000 combinations: easy to say aloud, not a secret).
 * @param {(n: number) => number} [rand] returns an integer in [0, n)
 */
export function randomRoomName(rand = randomInt) {
  const adj = ADJECTIVES[rand(ADJECTIVES.length)];
  const animal = ANIMALS[rand(ANIMALS.length)];
  const num = 10 + rand(90);
  return `${adj}-${animal}-${num}`;
}

/**
 * parseRoomInput turns what someone typed or pasted into a room name:
 * a bare name, "/r/name", or a full invite link "https://host/r/name#…".
 * It returns {room} or {error} with a message meant for people.
 * @param {string} input
 */
export function parseRoomInput(input) {
  let s = String(input ?? '').trim();
  if (s === '') return { error: 'Type a room name, or paste an invite link.' };
  const m = s.match(/^(?:[a-z][a-z0-9+.-]*:\/\/[^/]+)?\/?r\/([^/?#]*)(?:[/?#].*)?$/i);
  if (m) {
    try {
      s = decodeURIComponent(m[1]);
    } catch {
      s = m[1];
    }
  }
  if (s.length > 64) {
    return { error: `Room names are at most 64 characters (this one has ${s.length}).` };
  }
  if (!ROOM_RE.test(s)) {
    const bad = [...new Set(s.replace(/[A-Za-z0-9_-]/g, ''))].slice(0, 5)
      .map((c) => (c === ' ' ? 'spaces' : `“${c}”`)).join(', ');
    return { error: `Room names may only use letters, digits, - and _ (not ${bad}).` };
  }
  return { room: s };
}

/**
 * CONTROL_CHARS matches the characters a name may not hold: C0 and C1
 * controls and the bidirectional formatting characters, which can make
 * "invoice\u202Efdp.exe" read as "invoiceexe.pdf" (the server refuses the
 * same in display names, docs/protocol.md).
 */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * VISIBLE_CHAR matches a character that draws something: a letter, digit,
 * punctuation mark or symbol, but not the ones blank by design (the Hangul
 * fillers U+115F, U+1160, U+3164, U+FFA0 and U+2800 BRAILLE PATTERN
 * BLANK). Spaces, format characters (U+200B, U+FEFF, LRM, RLM, …) and
 * marks alone never match. The server's rule is the same (hasVisible in
 * signaling/protocol.go): a name of none of these renders as a blank tile.
 */
const VISIBLE_CHAR = /(?![\u115f\u1160\u3164\uffa0\u2800])[\p{L}\p{N}\p{P}\p{S}]/u;

/**
 * nameProblem returns why a display name would be refused by the server
 * (docs/protocol.md: 1–64 code points after trimming, no control
 * characters, at least one visible character), or '' when it is fine.
 * @param {string} name
 */
export function nameProblem(name) {
  const s = String(name ?? '').trim();
  const n = [...s].length;
  if (n === 0) return 'Please enter your name.';
  if (n > 64) return `Names are at most 64 characters (this one has ${n}).`;
  if (s.search(CONTROL_CHARS) !== -1) {
    return 'Names may not contain control characters.';
  }
  if (!VISIBLE_CHAR.test(s)) return 'Names need at least one visible character.';
  return '';
}
