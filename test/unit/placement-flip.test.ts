// flip's data division (reference/flip.md §1.7) and flip's own topology tests (§2), on configs
// read by src/config as a flip file, so that member order comes from the real loader.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { ClusterConfig } from '../../src/config/model.js';
import { createPlacer, place } from '../../src/core/placement.js';
import type { PlacementInput } from '../../src/core/types.js';

interface Server { priority?: number; systems?: string[] }
interface System { type: string; data: string[]; scripted?: boolean }

function flipCluster(servers: Record<string, Server>, systems: Record<string, System>): ClusterConfig {
  const file = {
    id: Object.keys(servers)[0],
    key: 'a key long enough for the warning',
    servers: Object.fromEntries(Object.entries(servers).map(([id, server], i) => [id, { ip: '192.0.2.100', port: 2200 + i, ...server }])),
    cluster: {
      config: { interface: 'eth0' },
      system: Object.fromEntries(Object.entries(systems).map(([name, { type, data, scripted }]) => [
        name, { type, data, ...(scripted ? { alive: '/bin/true', down: '/bin/true' } : {}) },
      ])),
    },
  };
  return parseConfig(JSON.stringify(file), 'flip-test.json').config;
}

function input(config: ClusterConfig, active: string[]): PlacementInput {
  return { config, active, ineligible: () => undefined, holders: new Map(), preferenceReady: () => true };
}

/** node → the points it holds, in data order (as flip's examples list them). */
function holdings(config: ClusterConfig, active: string[]): Record<string, string[]> {
  const result = place(input(config, active));
  const byNode: Record<string, string[]> = {};
  for (const group of [...config.groups].sort((a, b) => (a.point! < b.point! ? -1 : 1))) {
    for (const node of result[group.index]!) (byNode[node] ??= []).push(group.point!);
  }
  return byNode;
}

const memberNames = (count: number) => Array.from({ length: count }, (_, i) => `n${i + 1}`);
const pointNames = (count: number) => Array.from({ length: count }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);

/** count members with descending priorities given in reverse: the loader must reorder them. */
function shardCluster(memberCount: number, points: string[], type = 'shard'): ClusterConfig {
  const servers = Object.fromEntries(memberNames(memberCount).reverse().map((name) => [name, { priority: Number(name.slice(1)), systems: ['data'] }]));
  return flipCluster(servers, { data: { type, data: points, scripted: true } });
}

describe('flip shard division', () => {
  it('the README example: .1 to flip1 (priority 1), .2 to flip, flip2 an arbiter', () => {
    const config = flipCluster(
      { flip: { systems: ['ip'] }, flip1: { priority: 1, systems: ['ip'] }, flip2: {} },
      { ip: { type: 'shard', data: ['192.0.2.2', '192.0.2.1'] } },
    );
    expect(holdings(config, ['flip', 'flip1', 'flip2'])).toEqual({ flip1: ['192.0.2.1'], flip: ['192.0.2.2'] });
    // flip1 fails: its point moves to flip, the other member; flip2 still holds nothing.
    expect(holdings(config, ['flip', 'flip2'])).toEqual({ flip: ['192.0.2.1', '192.0.2.2'] });
    // flip1 returns: the division is as before.
    expect(holdings(config, ['flip', 'flip1', 'flip2'])).toEqual({ flip1: ['192.0.2.1'], flip: ['192.0.2.2'] });
  });

  it('the worked example of reference/flip.md §1.7 (3 members, p1..p7)', () => {
    const config = shardCluster(3, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    expect(holdings(config, ['n1', 'n2', 'n3'])).toEqual({ n1: ['p1', 'p4', 'p7'], n2: ['p2', 'p5'], n3: ['p3', 'p6'] });
    // The first orphan goes to the LAST survivor.
    expect(holdings(config, ['n1', 'n3'])).toEqual({ n1: ['p1', 'p4', 'p5', 'p7'], n3: ['p2', 'p3', 'p6'] });
    expect(holdings(config, ['n2', 'n3'])).toEqual({ n2: ['p2', 'p4', 'p5'], n3: ['p1', 'p3', 'p6', 'p7'] });
  });

  it('sorts data points as plain strings, as flip does ("10.0.0.10" before "10.0.0.9")', () => {
    const config = shardCluster(2, ['198.51.100.9', '198.51.100.10']);
    expect(holdings(config, ['n1', 'n2'])).toEqual({ n1: ['198.51.100.10'], n2: ['198.51.100.9'] });
  });

  it('evenly divides: with as many points as members, all alive, member i holds point i (1..20)', () => {
    for (let count = 1; count <= 20; count++) {
      const points = pointNames(count);
      const expected = Object.fromEntries(memberNames(count).map((name, i) => [name, [points[i]!]]));
      expect(holdings(shardCluster(count, points), memberNames(count)), `${count} members`).toEqual(expected);
    }
  });

  it('never misses nor duplicates a point: 1..9 members, every up/down pattern, 1..count points', () => {
    for (let count = 1; count <= 9; count++) {
      for (let pointCount = 1; pointCount <= count; pointCount++) {
        const config = shardCluster(count, pointNames(pointCount));
        for (let pattern = 0; pattern < 1 << count; pattern++) {
          const alive = memberNames(count).filter((_, i) => (pattern >> i) & 1);
          const result = place(input(config, alive));
          const where = `${count} members, ${pointCount} points, alive ${alive.join(',')}`;
          expect(result.flat().every((node) => alive.includes(node)), where).toBe(true);
          const points = result.flatMap((holders, g) => holders.map(() => config.groups[g]!.point));
          expect(points.sort(), where).toEqual(alive.length === 0 ? [] : pointNames(pointCount));
        }
      }
    }
  });

  it('passes a point whose holder is ineligible for it to the next survivor', () => {
    const config = shardCluster(3, ['p1', 'p2', 'p3']);
    const p1 = config.groups.find((group) => group.point === 'p1')!.index;
    const result = place({ ...input(config, ['n1', 'n2', 'n3']), ineligible: (g) => (g === p1 ? new Set(['n1']) : undefined) });
    expect(result[p1]).toEqual(['n2']);
  });
});

describe('flip replicated', () => {
  it('gives every point to every alive member and nothing to arbiters (both spellings)', () => {
    for (const type of ['replicated', 'replicate']) {
      const config = flipCluster(
        { a: { systems: ['web'] }, b: { systems: ['web'] }, c: { systems: ['web'] }, arbiter: {} },
        { web: { type, data: ['192.0.2.1', '192.0.2.2'] } },
      );
      expect(holdings(config, ['a', 'b', 'c', 'arbiter'])).toEqual({ a: ['192.0.2.1', '192.0.2.2'], b: ['192.0.2.1', '192.0.2.2'], c: ['192.0.2.1', '192.0.2.2'] });
      expect(holdings(config, ['a', 'c', 'arbiter'])).toEqual({ a: ['192.0.2.1', '192.0.2.2'], c: ['192.0.2.1', '192.0.2.2'] });
      expect(holdings(config, ['arbiter'])).toEqual({});
    }
  });

  it('places each system by its own type, and the incremental placer agrees', () => {
    const config = flipCluster(
      { a: { systems: ['web', 'db'] }, b: { systems: ['web', 'db'] }, c: { systems: ['db'] } },
      { web: { type: 'shard', data: ['192.0.2.1', '192.0.2.2'] }, db: { type: 'replicated', data: ['198.51.100.1'], scripted: true } },
    );
    expect(holdings(config, ['a', 'b', 'c'])).toEqual({ a: ['192.0.2.1', '198.51.100.1'], b: ['192.0.2.2', '198.51.100.1'], c: ['198.51.100.1'] });
    const placer = createPlacer(config);
    for (const active of [['a', 'b', 'c'], ['b', 'c'], ['c'], ['a', 'c']]) expect(placer.update(input(config, active))).toEqual(place(input(config, active)));
  });
});
