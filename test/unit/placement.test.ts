import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterConfig, PlacementStrategy } from '../../src/config/model.js';
import { createPlacer, place, vippyScore } from '../../src/core/placement.js';
import type { PlacementInput } from '../../src/core/types.js';

interface GroupSpec { key: string; preferred?: string }

function cluster(nodes: string[], groups: GroupSpec[], options: { placement?: PlacementStrategy; preempt?: boolean } = {}): ClusterConfig {
  return {
    format: 'vippy',
    version: 1,
    secret: 'placement tests',
    chat: { mode: 'multicast', address: '239.0.0.1', port: 8173, interface: 'all', ttl: 1 },
    nodes: nodes.map((name) => ({ name })),
    groups: groups.map((group, index) => ({
      index,
      key: group.key,
      ...(group.preferred === undefined ? {} : { preferred: group.preferred }),
      addresses: [{ interface: 'eth0', ip: group.key, family: group.key.includes(':') ? 6 : 4, prefixLength: group.key.includes(':') ? 128 : 32 }],
    })),
    timing: { intervalMs: 1000, matureMs: 5000, staleMs: 3000, guardMs: 0, arpCacheMs: 15000, preemptDelayMs: 0 },
    quorum: 1,
    noQuorumPolicy: 'ignore',
    placement: options.placement ?? 'vippy',
    preempt: options.preempt ?? true,
    notify: [],
    arp: { burstCount: 5, burstSpacingMs: 20, repeatDelayMs: 0, refreshIntervalMs: 0, notifyRate: 100 },
    management: { path: '/tmp/vippy-placement-test.socket', mode: 0o600 },
    logging: { driver: 'none', facility: 'local7', mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: true, debug: false }, json: false },
    plugins: [],
    fingerprint: 'placement-test',
  };
}

function input(config: ClusterConfig, active: string[], extra: Partial<Omit<PlacementInput, 'config' | 'active'>> = {}): PlacementInput {
  return {
    config,
    active,
    ineligible: () => undefined,
    holders: new Map(),
    preferenceReady: () => true,
    ...extra,
  };
}

const names = (count: number) => Array.from({ length: count }, (_, i) => `node${i + 1}`);
const keys = (count: number) => Array.from({ length: count }, (_, i) => ({ key: `192.0.2.${i}` }));

describe('vippy placement (reference/vippy.md §4)', () => {
  // Independently computed:
  //   printf 'node1|10.0.0.1' | md5sum    → b7f26f7a014c18210cb2222d808c06c3
  //   printf 'node2|10.0.0.1' | md5sum    → 3859a4031f8936e73c548c87fa627c89
  //   printf 'node3|10.0.0.1' | md5sum    → 4795eaedbe96293e052c79026b4767b4
  //   printf 'node1|192.0.2.10' | md5sum  → c9b60185150ffa9bd72cd97b58354d0e
  //   printf 'node2|192.0.2.10' | md5sum  → 82ae3196b884701ed675bfd2146109ce
  //   printf 'node3|192.0.2.10' | md5sum  → 71da9655096ab4c744b8abab291e70a3
  //   printf 'node1|2001:db8::1' | md5sum → 329d9e90074e8f54448c2ed06311418d
  //   printf 'node2|2001:db8::1' | md5sum → ec58701b3eb03ac4f12b9d7b0c2408c6
  //   printf 'node3|2001:db8::1' | md5sum → 441a5006fff403662203bedfe7a3fc77
  const config = cluster(['node1', 'node2', 'node3'], [{ key: '10.0.0.1' }, { key: '192.0.2.10' }, { key: '2001:db8::1' }]);

  it('scores as md5_hex(node|key):node', () => {
    expect(vippyScore('node1', '10.0.0.1')).toBe('b7f26f7a014c18210cb2222d808c06c3:node1');
  });

  it('gives each group to the node with the smallest score', () => {
    expect(place(input(config, ['node1', 'node2', 'node3']))).toEqual([['node2'], ['node3'], ['node1']]);
  });

  it('moves only the groups of a node that leaves, to the next smallest score', () => {
    expect(place(input(config, ['node1', 'node3']))).toEqual([['node3'], ['node3'], ['node1']]);
    expect(place(input(config, ['node1']))).toEqual([['node1'], ['node1'], ['node1']]);
  });

  it('leaves every group unowned without an active node', () => {
    expect(place(input(config, []))).toEqual([[], [], []]);
  });

  it('does not depend on the order or repetition of the active list', () => {
    expect(place(input(config, ['node3', 'node1', 'node2', 'node1']))).toEqual(place(input(config, ['node1', 'node2', 'node3'])));
  });

  it('skips nodes that are ineligible for a group', () => {
    const ineligible = (group: number) => (group === 0 ? new Set(['node2']) : undefined);
    expect(place(input(config, ['node1', 'node2', 'node3'], { ineligible }))).toEqual([['node3'], ['node3'], ['node1']]);
  });

  it('rejects an active node that is not in the config, naming it', () => {
    expect(() => place(input(config, ['node1', 'node9']))).toThrow('active[1] "node9" is not one of config.nodes');
  });
});

describe('preference', () => {
  // Without preference, 10.0.0.1 goes to node2 (see the vectors above).
  const groups = [{ key: '10.0.0.1', preferred: 'node1' }];
  const all = ['node1', 'node2', 'node3'];

  it('gives a group to its preferred node when that node is active', () => {
    expect(place(input(cluster(all, groups), all))).toEqual([['node1']]);
  });

  it('falls back to the rendezvous rule when the preferred node is inactive or ineligible', () => {
    const config = cluster(all, groups);
    expect(place(input(config, ['node2', 'node3']))).toEqual([['node2']]);
    expect(place(input(config, all, { ineligible: () => new Set(['node1']) }))).toEqual([['node2']]);
  });

  it('fails back at once with preempt on (the original behaviour)', () => {
    const holders = new Map([[0, 'node2']]);
    expect(place(input(cluster(all, groups), all, { holders }))).toEqual([['node1']]);
  });

  it('with preempt off, keeps the group with its current holder while that holder can keep it', () => {
    const config = cluster(all, groups, { preempt: false });
    expect(place(input(config, all, { holders: new Map([[0, 'node2']]) }))).toEqual([['node2']]);
    // The holder left, or lost eligibility: the preferred node takes it.
    expect(place(input(config, ['node1', 'node3'], { holders: new Map([[0, 'node2']]) }))).toEqual([['node1']]);
    expect(place(input(config, all, { holders: new Map([[0, 'node2']]), ineligible: () => new Set(['node2']) }))).toEqual([['node1']]);
    // Nobody holds it: it goes straight to the preferred node.
    expect(place(input(config, all))).toEqual([['node1']]);
  });

  it('holds failback back while the preferred node is inside its preempt_delay', () => {
    const config = cluster(all, groups);
    const waiting = { holders: new Map([[0, 'node3']]), preferenceReady: (node: string) => node !== 'node1' };
    expect(place(input(config, all, waiting))).toEqual([['node3']]);
    expect(place(input(config, all, { ...waiting, preferenceReady: () => true }))).toEqual([['node1']]);
    // Delay or not, an unheld group goes to its preferred node rather than elsewhere.
    expect(place(input(config, all, { preferenceReady: () => false }))).toEqual([['node1']]);
  });
});

describe('balanced placement', () => {
  const loads = (result: ReadonlyArray<readonly string[]>) => {
    const load = new Map<string, number>();
    for (const holders of result) for (const node of holders) load.set(node, (load.get(node) ?? 0) + 1);
    return load;
  };

  it('never puts more than ceil(M/N) groups on a node, places every group, and ignores the order of active', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 80 }),
        fc.infiniteStream(fc.boolean()),
        fc.infiniteStream(fc.nat()),
        (nodeCount, groupCount, activeFlags, picks) => {
          const nodes = names(nodeCount);
          const config = cluster(nodes, keys(groupCount), { placement: 'balanced' });
          const active = nodes.filter(() => activeFlags.next().value);
          // Arbitrary current holders, including inactive ones, exercise the sticky pass.
          const holders = new Map(config.groups.map((g) => [g.index, nodes[picks.next().value % nodeCount]!]));
          const result = place(input(config, active, { holders }));
          if (active.length === 0) {
            expect(result.every((h) => h.length === 0)).toBe(true);
            return;
          }
          expect(result.every((h) => h.length === 1 && active.includes(h[0]!))).toBe(true);
          const bound = Math.ceil(groupCount / active.length);
          for (const [node, load] of loads(result)) expect(load, node).toBeLessThanOrEqual(bound);
          expect(place(input(config, [...active].reverse(), { holders }))).toEqual(result);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('counts only groups that are not placed by preference', () => {
    const nodes = names(2);
    const groups = [...keys(4).map((g) => ({ ...g, preferred: 'node1' })), ...keys(10).slice(4)];
    const result = place(input(cluster(nodes, groups, { placement: 'balanced' }), nodes));
    expect(result.slice(0, 4)).toEqual(Array(4).fill(['node1']));
    const rest = loads(result.slice(4));
    expect([rest.get('node1'), rest.get('node2')]).toEqual([3, 3]);
  });

  it('moves only the leaver\'s groups when one of 10 nodes leaves, and only the shed share when it returns', () => {
    const nodes = names(10);
    const config = cluster(nodes, keys(1000).map((g, i) => ({ key: `198.51.${i >> 8}.${i & 255}` })), { placement: 'balanced' });
    const settled = place(input(config, nodes));
    const holdersOf = (result: ReadonlyArray<readonly string[]>) => new Map(result.map((h, g) => [g, h[0]!]));
    const without = place(input(config, nodes.slice(1), { holders: holdersOf(settled) }));
    const movedOnLeave = settled.filter((h, g) => h[0] !== without[g]![0]).length;
    expect(movedOnLeave).toBe(loads(settled).get('node1'));

    const back = place(input(config, nodes, { holders: holdersOf(without) }));
    const moved = back.map((h, g) => [without[g]![0], h[0]] as const).filter(([before, after]) => before !== after);
    expect(moved.every(([, after]) => after === 'node1')).toBe(true);
    expect(moved.length).toBeLessThanOrEqual(Math.ceil(1000 / 10));
    expect(moved.length).toBeGreaterThanOrEqual(1000 / 10 - 10);
  });
});

describe('incremental placer', () => {
  it('gives the same answers as place() through random changes of the active set', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<PlacementStrategy>('vippy', 'balanced'),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: 1, maxLength: 12 }),
        fc.infiniteStream(fc.nat()),
        (strategy, nodeCount, groupCount, toggles, picks) => {
          const nodes = names(nodeCount);
          const groups = keys(groupCount).map((g, i) => (i % 5 === 0 ? { ...g, preferred: nodes[i % nodeCount]! } : g));
          const config = cluster(nodes, groups, { placement: strategy, preempt: picks.next().value % 2 === 0 });
          const placer = createPlacer(config);
          const active = new Set(nodes);
          let holders = new Map<number, string>();
          for (const step of toggles) {
            for (const pick of step) {
              const node = nodes[pick % nodeCount]!;
              if (!active.delete(node)) active.add(node);
            }
            const blocked = nodes[picks.next().value % nodeCount]!;
            const request = input(config, [...active], {
              holders,
              ineligible: (g) => (g % 3 === 0 ? new Set([blocked]) : undefined),
              preferenceReady: (node) => node !== blocked,
            });
            const expected = place(request);
            expect(placer.update(request)).toEqual(expected);
            holders = new Map(expected.flatMap((h, g) => (h.length > 0 ? [[g, h[0]!] as const] : [])));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('starts afresh when handed another config', () => {
    const first = cluster(names(3), keys(5));
    const second = cluster(names(4), keys(7));
    const placer = createPlacer(first);
    expect(placer.update(input(first, names(3)))).toEqual(place(input(first, names(3))));
    expect(placer.update(input(second, names(4)))).toEqual(place(input(second, names(4))));
  });
});
