import test from 'node:test';
import assert from 'node:assert/strict';
import { statsOf, oneAtATime, StatsTimeout, STATS_TIMEOUT_MS } from './stats.js';

const never = { getStats: () => new Promise(() => {}) };

test('a getStats that never settles is given up after the bound', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const p = statsOf(never);
  t.mock.timers.tick(STATS_TIMEOUT_MS - 1);
  let settled = false;
  p.catch(() => {}).finally(() => { settled = true; });
  await Promise.resolve();
  assert.equal(settled, false, 'given up early');
  t.mock.timers.tick(1);
  await assert.rejects(p, (err) => err instanceof StatsTimeout && /5000 ms/.test(err.message));
});

test('an answer in time passes through; an error stays that error', async () => {
  const report = new Map([['x', { type: 'inbound-rtp' }]]);
  assert.equal(await statsOf({ getStats: async () => /** @type {any} */ (report) }), report);
  await assert.rejects(statsOf({ getStats: async () => { throw new Error('closed'); } }), /closed/);
});

test('a stats poll still running skips the next tick instead of queueing behind it', async () => {
  let started = 0;
  /** @type {() => void} */
  let finish = () => {};
  const tick = oneAtATime(() => { started++; return new Promise((resolve) => { finish = () => resolve(undefined); }); });
  tick();
  tick();
  tick();
  assert.equal(started, 1, 'slow getStats: the ticks meanwhile start nothing');
  finish();
  await new Promise((resolve) => setImmediate(resolve));
  tick();
  assert.equal(started, 2, 'once it resolved, the next tick polls again');
  finish();
  await new Promise((resolve) => setImmediate(resolve));
  let failed = 0;
  const failing = oneAtATime(() => { failed++; return Promise.reject(new Error('closed')).catch(() => {}); });
  failing();
  await new Promise((resolve) => setImmediate(resolve));
  failing();
  assert.equal(failed, 2, 'a poll that failed does not block the next');
});
