import test from 'node:test';
import assert from 'node:assert/strict';
import { statsOf, StatsTimeout, STATS_TIMEOUT_MS } from './stats.js';

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
