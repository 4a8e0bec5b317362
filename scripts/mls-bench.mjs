// MLS costs for docs/benchmarks.md, in node (the same ts-mls files the
// browser loads, scripts/vendor-web.sh): for each cipher suite and room
// size N, the committer's time to make the commit adding one newcomer,
// an existing member's time to process it, the newcomer's time to join
// from the Welcome, the same for a removal, and the handshake bytes of
// one join (KeyPackage + commit + Welcome, as sent: base64).
//
//   node scripts/mls-bench.mjs [sizes…]     default: 10 50 100
//
// The room is built with one commit adding N-1 members (their own states
// are not kept: only the committer, one observer and the newcomer run),
// then each figure is the median of REPS joins or leaves.

import {
  cipherSuite, newKeyPackage, readKeyPackage, Group, SUITE, SUITE_PQ,
} from '../web/js/mls.js';

const REPS = 5;
const enc = new TextEncoder();
const b64len = (n) => Math.ceil(n / 3) * 4;
const median = (l) => [...l].sort((a, b) => a - b)[Math.floor(l.length / 2)];

async function timed(fn) {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

async function room(cs, n) {
  const creator = await newKeyPackage(cs, { id: 'p0', name: 'P0' });
  const g = await Group.create(cs, creator, enc.encode('bench'));
  const observerKp = await newKeyPackage(cs, { id: 'p1', name: 'P1' });
  const others = [];
  for (let i = 2; i < n; i++) others.push(await newKeyPackage(cs, { id: `p${i}`, name: `P${i}` }));
  const r = await g.commit({ adds: [observerKp, ...others].map((k) => readKeyPackage(k.bytes).keyPackage) });
  g.adopt(r.next);
  const observer = await Group.join(cs, observerKp, r.welcome);
  return { g, observer };
}

async function bench(suiteName, n) {
  const cs = await cipherSuite(suiteName);
  const { g, observer } = await room(cs, n);
  const rows = { commit: [], process: [], join: [], removeCommit: [], removeProcess: [], bytes: [] };
  for (let i = 0; i < REPS; i++) {
    const kp = await newKeyPackage(cs, { id: `new${i}`, name: `New ${i}` });
    const [r, tc] = await timed(() => g.commit({ adds: [readKeyPackage(kp.bytes).keyPackage] }));
    const [, tp] = await timed(() => observer.process(r.commit));
    g.adopt(r.next);
    const [joined, tj] = await timed(() => Group.join(cs, kp, r.welcome));
    rows.commit.push(tc);
    rows.process.push(tp);
    rows.join.push(tj);
    rows.bytes.push(b64len(kp.bytes.length) + b64len(r.commit.length) + b64len(r.welcome.length));
    // The newcomer leaves again: a removal.
    const [rm, trc] = await timed(() => g.commit({ removes: [joined.leaf] }));
    const [, trp] = await timed(() => observer.process(rm.commit));
    g.adopt(rm.next);
    rows.removeCommit.push(trc);
    rows.removeProcess.push(trp);
  }
  const ms = (l) => median(l).toFixed(1);
  return `| ${suiteName.includes('XWING') ? 'X-Wing' : 'X25519'} | ${n} | ${ms(rows.commit)} | ${ms(rows.process)} | ${ms(rows.join)} | ${ms(rows.removeCommit)} | ${ms(rows.removeProcess)} | ${median(rows.bytes)} |`;
}

const sizes = process.argv.slice(2).map(Number).filter((x) => x > 1);
console.log('| suite | members | add: commit ms | add: process ms (per member) | join from Welcome ms | remove: commit ms | remove: process ms | handshake bytes per join |');
console.log('|---|---|---|---|---|---|---|---|');
for (const s of [SUITE, SUITE_PQ]) {
  for (const n of sizes.length ? sizes : [10, 50, 100]) console.log(await bench(s, n));
}
