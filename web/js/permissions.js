// @ts-check
// What this participant may do and what the others are (docs/access.md,
// docs/protocol.md): DOM-free, so node tests cover it.
//
// A join token may say `publish: false` (a viewer: watches, listens and
// chats, sends no audio, video or screen) and `admin: true` (a moderator:
// may mute or remove others). The server tells us ours in
// `welcome.permissions` and everyone's in the participant descriptors
// (`viewer`, `moderator`). In a mesh the server cannot police media, so
// every client ignores media from viewers and a viewer's own client sends
// none.

/** What everyone may do when no token says otherwise. */
export const DEFAULT_PERMISSIONS = Object.freeze({ publish: true, admin: false });

/** The tooltip of a viewer's disabled media buttons. */
export const VIEWER_TITLE = "You joined as a viewer: this room's link lets you watch and listen, not send";

/**
 * permissionsOf reads `welcome.permissions` (present only when a token
 * admitted us): publish unless it is false, admin only when it is true.
 */
export function permissionsOf(welcome) {
  const p = welcome?.permissions;
  if (!p || typeof p !== 'object') return { ...DEFAULT_PERMISSIONS };
  return { publish: p.publish !== false, admin: p.admin === true };
}

/**
 * tokenHint reads the permissions a join token claims, without checking
 * its signature (only the server can): a hint, so that a viewer's page does
 * not ask for the camera and microphone before the `welcome` says what is
 * allowed. null when there is no readable token.
 */
export function tokenHint(token) {
  if (typeof token !== 'string' || !token) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const claims = JSON.parse(json);
    if (!claims || typeof claims !== 'object') return null;
    return { publish: claims.publish !== false, admin: claims.admin === true };
  } catch {
    return null;
  }
}

/** roleOf reads a participant descriptor's flags (absent: false). */
export function roleOf(peer) {
  return { viewer: peer?.viewer === true, moderator: peer?.moderator === true };
}

/** roleLabels are the short labels shown on a tile and in the people list. */
export function roleLabels({ viewer = false, moderator = false } = {}) {
  const out = [];
  if (moderator) out.push('Moderator');
  if (viewer) out.push('Viewer');
  return out;
}

/**
 * mediaControls decides the state of the microphone, camera and share
 * buttons: enabled, or disabled with the reason as their tooltip.
 * @returns {{disabled: boolean, title: string}}
 */
export function mediaControls(perms) {
  return perms.publish ? { disabled: false, title: '' } : { disabled: true, title: VIEWER_TITLE };
}

/**
 * Roles keeps every participant's flags by id, from `welcome` and the
 * participant descriptors of later messages.
 */
export class Roles {
  constructor() {
    /** @type {Map<string, {viewer: boolean, moderator: boolean}>} */
    this.byId = new Map();
  }

  /** reset starts over from a welcome's peers. */
  reset(peers = []) {
    this.byId.clear();
    for (const p of peers) this.set(p);
  }

  /** set records a descriptor's flags; returns true when they changed. */
  set(peer) {
    if (!peer || typeof peer.id !== 'string' || !peer.id) return false;
    const r = roleOf(peer);
    const old = this.byId.get(peer.id);
    this.byId.set(peer.id, r);
    return !old || old.viewer !== r.viewer || old.moderator !== r.moderator;
  }

  delete(id) {
    this.byId.delete(id);
  }

  get(id) {
    return this.byId.get(id) ?? { viewer: false, moderator: false };
  }

  /** viewer reports whether media from id must be ignored. */
  viewer(id) {
    return this.byId.get(id)?.viewer === true;
  }
}
