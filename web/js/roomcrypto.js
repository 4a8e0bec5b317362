// @ts-check
// What the client does with the server's word on the room's end-to-end
// encryption (welcome.e2ee, the `e2ee` message; docs/e2ee.md "Unencrypted
// rooms"). The server may lie, so the rules only ever let it make a call
// more visible, never silently less private:
//   - a room joined through an invite link with its secret (#k=) is
//     encrypted, whatever the server says: no join otherwise;
//   - a call that started encrypted stays encrypted until it ends, and
//     this page never joins the room unencrypted again;
//   - an unencrypted room is joined only at the start of a call, and then
//     everyone sees it (a strip on the call, open locks, the chat's note).
// DOM-free, so node tests cover every case.

/**
 * @typedef {'encrypt'|'plain'|'keep-encrypting'|'rejoin'|'refuse-invite'|'refuse-downgrade'|'refuse-unsupported'} Decision
 *   encrypt: go on encrypted; plain: go on unencrypted (show it);
 *   keep-encrypting: the server says unencrypted mid-call: keep
 *   encrypting and warn; rejoin: the room became encrypted: join again
 *   with encryption; refuse-*: do not join (or leave), say why.
 */

/**
 * decide applies the rules above.
 * @param {{said: unknown, started: boolean, encrypting: boolean,
 *          canEncrypt: boolean, secret: boolean, wasEncrypted: boolean}} s
 *   said: the message's e2ee field (anything but false means encrypted);
 *   started: this call already took a decision (not its first welcome);
 *   encrypting: this call encrypts; canEncrypt: the browser has encoded
 *   transforms; secret: the page has an invite secret; wasEncrypted: this
 *   page has been in the room encrypted before (an earlier call).
 * @returns {Decision}
 */
export function decide({ said, started, encrypting, canEncrypt, secret, wasEncrypted }) {
  if (said !== false) {
    if (!canEncrypt) return 'refuse-unsupported';
    if (started && !encrypting) return 'rejoin';
    return 'encrypt';
  }
  if (started) return encrypting ? 'keep-encrypting' : 'plain';
  if (secret) return 'refuse-invite';
  if (wasEncrypted) return 'refuse-downgrade';
  return 'plain';
}

/** The end page's title and text for each refusal (call.js showEnd). */
const REFUSALS = {
  'refuse-invite': {
    title: 'Not joined: the server says this room is not encrypted',
    text: 'Your invite link is for an end-to-end encrypted room, but the server says this room is not end-to-end encrypted. Parley did not join and sent nothing. Ask whoever invited you: an administrator may have changed the room, or the server is not to be trusted.',
  },
  'refuse-downgrade': {
    title: 'Left: the server turned end-to-end encryption off',
    text: 'This call was end-to-end encrypted, and the server now says the room is not. Parley left rather than send anything unencrypted. Reload the page if you accept to join this room without end-to-end encryption.',
  },
  'refuse-unsupported': {
    title: 'This browser cannot join this room',
    text: 'This browser cannot encrypt calls end to end (it lacks encoded transforms), and this room is end-to-end encrypted. Use a current Chrome, Edge, Firefox or Safari.',
  },
};

/** refusalText returns the end page's {title, text} for a refusal code, or null. */
export function refusalText(code) {
  return REFUSALS[code] ?? null;
}

/** The warning for keep-encrypting (a banner: the call itself is unchanged). */
export const KEEP_ENCRYPTING_TEXT = 'The server now says this room is not end-to-end encrypted. This call stays encrypted: people who join without encryption will not see or hear you, nor you them. If you did not expect this, leave.';

/** The strip an unencrypted call shows for as long as it lasts. */
export const PLAIN_TEXT = 'This room is NOT end-to-end encrypted: the server can see, hear and read everything in this call. An administrator allowed it.';

/** The chat panel's note in an unencrypted room. */
export const PLAIN_CHAT_NOTE = 'Messages and files are NOT end-to-end encrypted in this room: the server can read those that pass through it. They are kept only in this tab for this call. People who join later do not see what was said before.';
