// @ts-check
// The admin API client (docs/admin.md): /api/admin/ behind a bearer token.
// DOM-free; admin.js builds the page on it.

export const POLICIES = Object.freeze(['auto', 'mesh-only', 'sfu-only']);

/** AdminError is a refused or failed admin request. */
export class AdminError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} code the API's error code ("unauthorized", "no-room", …)
   * @param {string} message the API's text
   */
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

/** adminErrorText turns an error into one sentence for the page. */
export function adminErrorText(err) {
  if (!(err instanceof AdminError)) return `Something went wrong: ${err?.message ?? err}`;
  if (err.status === 401) return 'Wrong token: the server did not accept it. Check the admin token and sign in again.';
  if (err.status === 0) return 'Cannot reach the server. Retrying…';
  if (err.code === 'no-room') return 'That room no longer exists (everyone left).';
  if (err.code === 'no-participant') return 'That participant has already left.';
  if (err.status === 404) return `Not found: ${err.message}`;
  return `The server refused: ${err.message}`;
}

export class AdminAPI {
  /**
   * @param {{token: string, base?: string, fetch?: typeof fetch}} o
   */
  constructor({ token, base = '/api/admin', fetch: f = globalThis.fetch.bind(globalThis) }) {
    this.token = token;
    this.base = base;
    this.fetch = f;
  }

  /** request sends one call and returns its decoded JSON (null for 204). */
  async request(method, path, body) {
    /** @type {RequestInit & {headers: Record<string, string>}} */
    const init = {
      method,
      headers: { Authorization: `Bearer ${this.token}` },
      cache: 'no-store',
      credentials: 'omit',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await this.fetch(this.base + path, init);
    } catch (err) {
      throw new AdminError(0, 'network', err?.message ?? String(err));
    }
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch {
      /* an empty or non-JSON body */
    }
    if (!res.ok) throw new AdminError(res.status, data?.error ?? '', data?.message ?? res.statusText);
    return data;
  }

  /** rooms returns {policy, rooms: [{name, mode, policy, policySet, switches, participants}]}. */
  async rooms() {
    const data = await this.request('GET', '/rooms');
    return { policy: data?.policy ?? 'auto', rooms: Array.isArray(data?.rooms) ? data.rooms : [] };
  }

  setPolicy(policy) {
    return this.request('PUT', '/policy', { policy });
  }

  setRoomPolicy(room, policy) {
    return this.request('PUT', `/rooms/${encodeURIComponent(room)}/policy`, { policy });
  }

  /** setRoomE2EE allows a live room unencrypted (false) or takes it back (docs/admin.md). */
  setRoomE2EE(room, e2ee) {
    return this.request('PUT', `/rooms/${encodeURIComponent(room)}/e2ee`, { e2ee });
  }

  kick(id) {
    return this.request('DELETE', `/participants/${encodeURIComponent(id)}`);
  }

  closeRoom(room) {
    return this.request('DELETE', `/rooms/${encodeURIComponent(room)}`);
  }
}
