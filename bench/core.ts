// Placement cost: recompute after one node leaves or joins at 1,000 nodes × 100,000 groups with
// the incremental placer (target ≤ 50 ms, issue 3 §5), full place() at smaller sizes, and how
// many groups "balanced" moves when one node of 10 leaves and returns.
// Run: npx tsx bench/core.ts  → bench/results/core.json, section "placement".
import type { ClusterConfig, PlacementStrategy } from '../src/config/model.js';
import { createPlacer, place } from '../src/core/placement.js';
import type { PlacementInput, PlacementResult } from '../src/core/types.js';
import os from 'node:os';
import { recordResults, summarize } from './lib/results.js';

const TARGET_MS = 50;

function cluster(nodeCount: number, groupCount: number, placement: PlacementStrategy): ClusterConfig {
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    format: 'vippy', version: 1, secret: 'bench',
    chat: { mode: 'multicast', address: '239.0.0.1', port: 8173, interface: 'all', ttl: 1 },
    nodes: Array.from({ length: nodeCount }, (_, i) => ({ name: `node${i + 1}` })),
    groups: Array.from({ length: groupCount }, (_, index) => ({
      index, key: ip(index), addresses: [{ interface: 'eth0', ip: ip(index), family: 4 as const, prefixLength: 32 }],
    })),
    timing: { intervalMs: 1000, matureMs: 5000, staleMs: 3000, guardMs: 0, arpCacheMs: 15000, preemptDelayMs: 0 },
    quorum: 1, noQuorumPolicy: 'ignore', placement, preempt: true, notify: [],
    arp: { burstCount: 5, burstSpacingMs: 20, repeatDelayMs: 0, refreshIntervalMs: 0, notifyRate: 100 },
    management: { path: '/tmp/bench.socket', mode: 0o600 },
    logging: { driver: 'none', facility: 'local7', mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: false }, json: false },
    plugins: [], fingerprint: 'bench',
  };
}

function input(config: ClusterConfig, active: string[], holders: ReadonlyMap<number, string> = new Map()): PlacementInput {
  return { config, active, ineligible: () => undefined, holders, preferenceReady: () => true };
}

const holdersOf = (result: PlacementResult) => new Map(result.flatMap((h, g) => (h.length > 0 ? [[g, h[0]!] as const] : [])));
const moved = (before: PlacementResult, after: PlacementResult) => before.filter((h, g) => h[0] !== after[g]![0]).length;
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** Alternately drop and restore one node (a different one each round), timing each update. */
function incremental(strategy: PlacementStrategy, nodeCount: number, groupCount: number, rounds: number) {
  const config = cluster(nodeCount, groupCount, strategy);
  const everyone = config.nodes.map((node) => node.name);
  const placer = createPlacer(config);
  let start = process.hrtime.bigint();
  let current = placer.update(input(config, everyone));
  const coldStartMs = ms(start);
  const leave: number[] = [];
  const join: number[] = [];
  const movedOnLeave: number[] = [];
  const movedOnJoin: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const gone = everyone[(round * 97) % nodeCount]!;
    const leaving = input(config, everyone.filter((name) => name !== gone), holdersOf(current));
    start = process.hrtime.bigint();
    const without = placer.update(leaving);
    leave.push(ms(start));
    movedOnLeave.push(moved(current, without));
    const joining = input(config, everyone, holdersOf(without));
    start = process.hrtime.bigint();
    current = placer.update(joining);
    join.push(ms(start));
    movedOnJoin.push(moved(without, current));
  }
  const leaveMs = summarize(leave);
  const joinMs = summarize(join);
  const figures = {
    nodes: nodeCount, groups: groupCount, coldStartMs, leaveMs, joinMs,
    groupsMovedOnLeave: summarize(movedOnLeave), groupsMovedOnJoin: summarize(movedOnJoin),
    targetMs: TARGET_MS, targetMet: leaveMs.median <= TARGET_MS && joinMs.median <= TARGET_MS,
  };
  console.log(strategy, JSON.stringify(figures));
  return figures;
}

/** Full place() from scratch (every score hashed with node:crypto). */
function full(strategy: PlacementStrategy, nodeCount: number, groupCount: number) {
  const config = cluster(nodeCount, groupCount, strategy);
  const everyone = config.nodes.map((node) => node.name);
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    place(input(config, everyone));
    samples.push(ms(start));
  }
  const figures = { nodes: nodeCount, groups: groupCount, ms: summarize(samples) };
  console.log('full', strategy, JSON.stringify(figures));
  return figures;
}

/** Groups "balanced" moves when one of 10 nodes leaves and returns, with and without current holders. */
function balancedMovement(groupCount: number) {
  const config = cluster(10, groupCount, 'balanced');
  const everyone = config.nodes.map((node) => node.name);
  const settled = place(input(config, everyone));
  const withHolders = place(input(config, everyone.slice(1), holdersOf(settled)));
  const backWithHolders = place(input(config, everyone, holdersOf(withHolders)));
  const fresh = place(input(config, everyone.slice(1)));
  const freshBack = place(input(config, everyone));
  const figures = {
    nodes: 10, groups: groupCount, idealMoves: groupCount / 10,
    stickyLeave: moved(settled, withHolders), stickyJoin: moved(withHolders, backWithHolders),
    statelessLeave: moved(settled, fresh), statelessJoin: moved(fresh, freshBack),
  };
  console.log('balanced movement', JSON.stringify(figures));
  return figures;
}

// The machine is shared: the load around the run says how far to trust the timings.
const loadAverageBefore = os.loadavg();
const figures = {
  loadAverageBefore,
  note: 'A leave hashes nothing (the per-group lists of best-ranked nodes lose one entry); a join hashes every group once with the joiner (100,000 MD5s). "balanced" also ranks in full (N digests) each group the lowered bound sheds. Both add one pass over all groups to apply preference and strategy.',
  incrementalVippy: incremental('vippy', 1_000, 100_000, 5),
  incrementalBalanced: incremental('balanced', 1_000, 100_000, 5),
  fullVippy: [full('vippy', 10, 1_000), full('vippy', 100, 1_000), full('vippy', 100, 10_000)],
  fullBalanced: [full('balanced', 10, 1_000), full('balanced', 100, 10_000)],
  balancedMovement: balancedMovement(1_000),
  loadAverageAfter: os.loadavg(),
};
console.log('wrote', recordResults('core.json', 'placement', figures));
