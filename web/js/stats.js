// @ts-check
// getStats with a bound. Firefox never settles the promise of
// RTCPeerConnection.getStats() when the connection is closed in the same
// task that called it (Firefox 153 ESR: pending 3 s later, and for good;
// Chromium resolves; e2e TestCrossBrowser "a stats call on a connection
// closed under it"). The mesh ⇄ SFU switch closes connections at any
// moment, and the polls that wait for one call before the next
// (mediastate.js, speaking.js) stopped for good on it: a Firefox page kept
// "No picture or sound from B yet" over a tile decoding at 15 fps.
// Every awaited getStats goes through statsOf. DOM-free.

/**
 * How long a getStats call may take before it counts as lost. Far above
 * a slow one: 24 inbound videos on a loaded 2-core machine take well under
 * a second (BenchmarkConstrainedRoom's sampler); five MEDIA_CHECK_MS ticks.
 */
export const STATS_TIMEOUT_MS = 5000;

/** StatsTimeout is the error of a getStats call that did not settle in time. */
export class StatsTimeout extends Error {
  constructor(ms) {
    super(`getStats did not answer in ${ms} ms`);
    this.name = 'StatsTimeout';
  }
}

/**
 * statsOf is source.getStats(), rejected with StatsTimeout when it has not
 * settled within ms. source is a connection, a sender or a receiver.
 * @param {{getStats: () => Promise<RTCStatsReport>}} source
 * @param {number} [ms]
 * @returns {Promise<RTCStatsReport>}
 */
export function statsOf(source, ms = STATS_TIMEOUT_MS) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new StatsTimeout(ms)), ms);
  });
  return Promise.race([source.getStats(), late]).finally(() => clearTimeout(timer));
}
