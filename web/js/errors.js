// @ts-check
// Human text for the server's error codes (docs/protocol.md) and for the
// ways a call can end. DOM-free.

/** errorText returns the sentence shown for an `error` message. */
export function errorText(msg) {
  const detail = typeof msg.message === 'string' ? msg.message : '';
  switch (msg.code) {
    case 'room-full':
      return `You can't join right now: ${detail || 'the room is full'}. Try again later.`;
    case 'bad-room':
      return `This room name is not valid: ${detail}`;
    case 'bad-name':
      return `Please choose another name: ${detail}`;
    case 'bad-version':
      return 'This page is older than the server. Reload the page to get the new version.';
    case 'already-joined':
      return 'You are already in this room in this tab.';
    case 'not-joined':
      return 'You are not in the room yet; please wait a moment.';
    case 'unknown-peer':
      return 'That participant has just left.';
    case 'rate-limited':
      return 'Too many messages at once; some were dropped. The call should recover by itself.';
    case 'too-large':
      return 'A message was too large for the server and the connection was reset.';
    case 'password-required':
      return 'This room is protected: enter its password to join.';
    case 'bad-password':
      return 'That password is not right. Check it and try again.';
    case 'bad-token':
      return `Your invitation link does not work: ${detail || 'its token is not valid'}. Ask for a new link.`;
    case 'token-required':
      return 'This server admits only people with an invitation link. Use the link you were given.';
    case 'forbidden':
      return `You are not allowed to do that${detail ? `: ${detail}` : ''}.`;
    case 'internal':
      return `The server ran into a problem${detail ? `: ${detail}` : ''}.`;
    case 'kicked':
    case 'room-closed':
      return endText(msg.code, detail).text;
    default:
      return detail || `The server refused a request (${msg.code || 'unknown error'}).`;
  }
}

/** needsPassword reports whether a join refusal is answered by asking for the room password. */
export function needsPassword(code) {
  return code === 'password-required' || code === 'bad-password';
}

/**
 * endText is the heading and sentence of the page shown when a call ends:
 * 'left' (the person left), 'kicked' or 'room-closed' (an administrator).
 * message is the server's reason, when it gave one: a removal names the
 * moderator who did it ("Ada removed you from the room").
 */
export function endText(code, message = '') {
  switch (code) {
    case 'kicked':
      return {
        title: 'You were removed from the call',
        text: `${message ? sentence(message) : 'An administrator removed you from this call.'} You can rejoin only if they let you back in.`,
      };
    case 'room-closed':
      return {
        title: 'This call was ended',
        text: 'An administrator closed this room; everyone in it was disconnected.',
      };
    case 'taken-over':
      return {
        title: 'Your call continued elsewhere',
        text: 'Another connection of yours (another tab, or this page reconnecting from a new network) took your place in the call. Rejoin to bring it back here.',
      };
    default:
      return { title: 'You left the call', text: 'Nothing from the call was stored anywhere.' };
  }
}

/** sentence makes a server's reason a sentence: capital first letter, final stop. */
function sentence(s) {
  const t = String(s).trim();
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}
