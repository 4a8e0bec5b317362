// @ts-check
// Reconnection delays: exponential back-off with "equal jitter", so a
// server restart is not met by every client at the same instant, while each
// client still waits at least half the nominal delay. DOM-free.

/** Defaults: 0.5 s, 1 s, 2 s, 4 s, 8 s, then 15 s (each ±50 % jitter, downward). */
export const BACKOFF = Object.freeze({ base: 500, factor: 2, max: 15000 });

/**
 * backoffDelay returns the wait in milliseconds before reconnection attempt
 * number `attempt` (0 for the first retry).
 * @param {number} attempt
 * @param {{base?: number, factor?: number, max?: number, random?: () => number}} [opts]
 */
export function backoffDelay(attempt, opts = {}) {
  const { base, factor, max } = { ...BACKOFF, ...opts };
  const random = opts.random ?? Math.random;
  const nominal = Math.min(max, base * factor ** Math.max(0, attempt));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
