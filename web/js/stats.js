// @ts-check
// getStats with a bound. Firefox never settles the promise of
// RTCPeerConnection.getStats() when the connection is closed in the same
// task that called it (Firefox 153 ESR: pending 3 s later, and for good;
// Chromium resolves; e2e TestCrossBrowser "a stats call on a connection
// closed under it"). The mesh ⇄ SFU switch closes connections at any
// moment, and the polls that wait for one call before the next
// (mediastate.js, speaking.js) stopped for good on it: a Firefox page kept
// "No picture or sound from B yet" over a tile decoding at 15 fps.
// Every awaited getStats goes through statsOf, and every poll of them runs
// one at a time (oneAtATime). DOM-free.

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

/**
 * oneAtATime wraps an async job run on a timer (a poll of getStats) so
 * that a call while the previous one is still pending is skipped. getStats
 * over a large room's connection can take longer than a poll's interval
 * on a busy machine; started regardless, the calls queue up behind each
 * other, every reading comes later than the last, and the page spends its
 * time on stats. A call returns the job's promise, or a resolved one when
 * it was skipped.
 * @param {() => Promise<unknown>} job
 * @returns {() => Promise<unknown>}
 */
export function oneAtATime(job) {
  let pending = false;
  return () => {
    if (pending) return Promise.resolve();
    pending = true;
    return job().finally(() => { pending = false; });
  };
}
