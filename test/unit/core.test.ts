// Unit tests of src/core's state machine and helpers; whole-cluster behaviour is in test/sim.
import { describe, expect, it } from 'vitest';
import { arpCache, createNode, notifyTargets, status, step, type NodeState } from '../../src/core/index.js';
import { compareConfigs, remapHeld } from '../../src/core/config-graduation.js';
import { notifyHosts } from '../../src/core/notify-targets.js';
import type { Action, Announcement, CoreEvent } from '../../src/core/types.js';
import type { VipGroup } from '../../src/config/model.js';
import { parseConfig } from '../../src/config/index.js';
import { simConfig } from '../sim/config.js';

const config = simConfig({ nodes: ['a', 'b', 'c'], groups: 3, quorum: 2 });

function announce(node: string, overrides: Partial<Announcement> = {}): CoreEvent {
  return {
    type: 'announcement',
    from: node,
    announcement: {
      node, version: config.version, fingerprint: config.fingerprint, active: true, inactiveReason: null,
      leaving: false, held: [], ineligible: [], hears: [0, 1, 2], ...overrides,
    },
  };
}

const of = <T extends Action['type']>(actions: Action[], type: T) => actions.filter((a): a is Extract<Action, { type: T }> => a.type === type);
const logged = (actions: Action[]) => of(actions, 'log').map((a) => a.event);

describe('core step', () => {
  it('announces at the first tick and every interval, with a wake-up no later than the next one', () => {
    const node = createNode({ self: 'a', config, now: 0 });
    const first = step(node, { type: 'tick' }, 0);
    expect(of(first.actions, 'send')).toHaveLength(1);
    expect(of(first.actions, 'send')[0]!.announcement).toMatchObject({ node: 'a', active: false, inactiveReason: 'booting', held: [], leaving: false });
    expect(first.wakeAt).toBeLessThanOrEqual(config.timing.intervalMs);
    expect(of(step(node, { type: 'tick' }, 500).actions, 'send')).toHaveLength(0);
    expect(of(step(node, { type: 'tick' }, 1000).actions, 'send')).toHaveLength(1);
  });

  it('is mature after matureMs and reports the first failing health reason, latched per name', () => {
    const node = createNode({ self: 'a', config, now: 0 });
    step(node, { type: 'tick' }, 0);
    expect(status(node)).toMatchObject({ mature: false, active: false, inactiveReason: 'booting' });
    step(node, { type: 'health', reason: 'ping', ok: false }, 100);
    step(node, { type: 'health', reason: 'disk', ok: false }, 200);
    for (let t = 1000; t <= 5000; t += 1000) step(node, { type: 'tick' }, t);
    expect(status(node)).toMatchObject({ mature: true, active: false, inactiveReason: 'ping', mode: 'inactive' });
    step(node, { type: 'health', reason: 'ping', ok: true }, 5100);
    expect(status(node).inactiveReason).toBe('disk');
    const result = step(node, { type: 'health', reason: 'disk', ok: true }, 5200);
    expect(status(node)).toMatchObject({ active: true, inactiveReason: null });
    // The change goes out at once, not at the next interval.
    expect(of(result.actions, 'send')[0]?.announcement.active).toBe(true);
  });

  it('takes its groups with quorum, after the view has settled, and releases them all when quorum is lost', () => {
    const node = createNode({ self: 'a', config, now: 0 });
    for (let t = 0; t <= 5000; t += 1000) {
      step(node, announce('b', { active: t >= 5000, hears: [0, 1] }), t);
      step(node, { type: 'tick' }, t);
    }
    const plumbed = new Set<number>();
    for (let t = 5100; t <= 7000; t += 100) {
      for (const a of of(step(node, announce('b', { hears: [0, 1] }), t).actions, 'plumb')) plumbed.add(a.group);
    }
    expect([...plumbed].sort()).toEqual(status(node).ownership.a);
    expect(plumbed.size).toBeGreaterThan(0);
    // b falls silent; c was never heard: 1 of 2 seen.
    const result = step(node, { type: 'tick' }, 7000 + config.timing.staleMs + 1);
    expect(of(result.actions, 'unplumb').map((a) => a.group).sort()).toEqual([...plumbed].sort());
    expect(logged(result.actions)).toContain('quorum-lost');
    expect(status(node).mode).toBe('no-quorum');
  });

  it('names the peer a group is taken over from in the plumb action, and only for a takeover', () => {
    const pair = simConfig({ nodes: ['a', 'b'], groups: 1, prefer: { 0: 'b' }, matureMs: 0 });
    const fromB = (t: number): CoreEvent => ({
      type: 'announcement', from: 'b',
      announcement: { node: 'b', version: pair.version, fingerprint: pair.fingerprint, active: true, inactiveReason: null, leaving: false, held: [0], ineligible: [], hears: [0, 1] },
    });
    const node = createNode({ self: 'a', config: pair, now: 0 });
    for (let t = 0; t <= 3000; t += 500) {
      expect(of(step(node, fromB(t), t).actions, 'plumb')).toEqual([]);
      step(node, { type: 'tick' }, t);
    }
    // b falls silent: after stale plus the guard, a takes the group over from b.
    const plumbs: Action[] = [];
    for (let t = 3100; t <= 9000; t += 100) plumbs.push(...of(step(node, { type: 'tick' }, t).actions, 'plumb'));
    expect(plumbs).toEqual([{ type: 'plumb', group: 0, reason: 'takeover from b', from: 'b' }]);
    const alone = createNode({ self: 'a', config: simConfig({ nodes: ['a'], groups: 1, matureMs: 0, guardMs: 0 }), now: 0 });
    expect(of(step(alone, { type: 'tick' }, 0).actions, 'plumb')).toEqual([{ type: 'plumb', group: 0, reason: 'placement' }]);
  });

  it('releases everything when its peers stop hearing it, once that has lasted half an interval', () => {
    const node = createNode({ self: 'a', config, now: 0 });
    const both = (t: number, hears: number[]) => {
      const actions = [...step(node, announce('b', { hears }), t).actions, ...step(node, announce('c', { hears }), t).actions];
      return of(actions, 'unplumb').map((a) => a.group);
    };
    for (let t = 0; t <= 7000; t += 100) both(t, [0, 1, 2]);
    const held = status(node).held;
    expect(held.length).toBeGreaterThan(0);
    // Both peers lose one of a's announcements: their lists lack a until the next one arrives.
    expect(both(7100, [1, 2])).toEqual([]);
    expect(of(step(node, { type: 'tick' }, 7100 + config.timing.intervalMs / 2 - 1).actions, 'unplumb')).toEqual([]);
    expect(both(7100 + config.timing.intervalMs / 2 - 1, [0, 1, 2])).toEqual([]);
    expect(status(node).held).toEqual(held);
    // They keep not hearing it: half an interval later it lets go of everything.
    expect(both(8000, [1, 2])).toEqual([]);
    const result = step(node, { type: 'tick' }, 8000 + config.timing.intervalMs / 2);
    expect(of(result.actions, 'unplumb').map((a) => a.group)).toEqual(held);
    expect(logged(result.actions)).toContain('one-way-failure');
    expect(status(node).mode).toBe('unheard');
  });

  it('on stop releases everything, announces leaving, and then does nothing', () => {
    const node = createNode({ self: 'a', config: simConfig({ nodes: ['a'], groups: 1, matureMs: 0, guardMs: 0 }), now: 0 });
    step(node, { type: 'tick' }, 0);
    const held = status(node).held;
    expect(held).toEqual([0]);
    const stopped = step(node, { type: 'stop' }, 10);
    expect(of(stopped.actions, 'unplumb').map((a) => a.group)).toEqual([0]);
    expect(of(stopped.actions, 'send')[0]!.announcement).toMatchObject({ leaving: true, held: [], active: false });
    expect(stopped.wakeAt).toBe(Infinity);
    expect(step(node, { type: 'tick' }, 20).actions).toEqual([]);
  });

  it('releases everything after a pause longer than stale', () => {
    const node = createNode({ self: 'a', config: simConfig({ nodes: ['a'], groups: 2, matureMs: 0, guardMs: 0 }), now: 0 });
    step(node, { type: 'tick' }, 0);
    expect(status(node).held).toEqual([0, 1]);
    const resumed = step(node, { type: 'tick' }, 10_000);
    expect(of(resumed.actions, 'unplumb').map((a) => a.group)).toEqual([0, 1]);
    expect(logged(resumed.actions)).toContain('paused');
    expect(status(node).inactiveReason).toBe('resuming');
  });
});

describe('config graduation', () => {
  const v2 = simConfig({ nodes: ['a', 'b', 'c'], groups: 2, quorum: 2, version: 2 });
  const alone = (version: number, groups: number) => simConfig({ nodes: ['a'], groups, version, matureMs: 0, guardMs: 0 });

  it('adopts a higher version, releasing groups that are gone first and resetting the mature clock', () => {
    const node = createNode({ self: 'a', config: alone(1, 3), now: 0 });
    step(node, { type: 'tick' }, 0);
    expect(status(node).held).toEqual([0, 1, 2]);
    const next = alone(2, 2);
    const result = step(node, { type: 'config-offer', from: 'b', config: next }, 100);
    const types = result.actions.map((a) => a.type);
    expect(of(result.actions, 'unplumb').map((a) => a.group)).toEqual([2]);
    expect(types.indexOf('unplumb')).toBeLessThan(types.indexOf('adopt-config'));
    expect(of(result.actions, 'adopt-config')[0]).toMatchObject({ from: 'b', config: next });
    expect(of(result.actions, 'log').find((a) => a.event === 'config-graduated')?.message).toBe('config v1 -> v2 (from b)');
    expect(status(node)).toMatchObject({ version: 2, held: [0, 1] });
    expect(node.configChangedAt).toBe(100);
  });

  it('offers its config to a peer on an older version, at most once per stale period', () => {
    const node = createNode({ self: 'a', config: v2, now: 0 });
    const old = { version: 1, fingerprint: config.fingerprint };
    expect(of(step(node, announce('b', old), 0).actions, 'send-config')).toHaveLength(1);
    expect(of(step(node, announce('b', old), 1000).actions, 'send-config')).toHaveLength(0);
    expect(of(step(node, announce('b', old), 3000).actions, 'send-config')).toHaveLength(1);
  });

  it('logs a same-version conflict once and lets the greater fingerprint win', () => {
    const other = simConfig({ nodes: ['a', 'b', 'c'], groups: 3, quorum: 2, variant: 1 });
    const [low, high] = [config, other].sort((x, y) => (x.fingerprint < y.fingerprint ? -1 : 1));
    const node = createNode({ self: 'a', config: low!, now: 0 });
    const first = step(node, announce('b', { fingerprint: high!.fingerprint }), 0);
    expect(of(first.actions, 'log').filter((a) => a.event === 'config-conflict').map((a) => a.level)).toEqual(['crit']);
    expect(logged(step(node, announce('b', { fingerprint: high!.fingerprint }), 1000).actions)).not.toContain('config-conflict');
    expect(of(step(node, { type: 'config-offer', from: 'b', config: high! }, 1100).actions, 'adopt-config')).toHaveLength(1);
    expect(compareConfigs(low!, high!)).toBe('conflict-theirs-wins');
    expect(compareConfigs(high!, low!)).toBe('conflict-ours-wins');
  });

  it('maps held groups onto the new config by their addresses', () => {
    const before = simConfig({ nodes: ['a'], groups: 3 });
    const after = simConfig({ nodes: ['a'], groups: 2, interfaces: { 1: 'eth1' } });
    expect(remapHeld(before, after, new Set([0, 1, 2]))).toEqual({ kept: new Set([0]), dropped: [1, 2] });
  });
});

describe("flip's start-up (reference/flip.md §1.9)", () => {
  /** flip's README cluster: flip, flip1 (priority 1), flip2 (arbiter); .1 is flip1's home, .2 flip's. */
  const readme = (extra: object = {}) => parseConfig(JSON.stringify({
    id: 'flip', key: 'a key long enough for the warning',
    servers: {
      flip: { ip: '192.0.2.1', port: 2200, systems: ['ip'] },
      flip1: { ip: '192.0.2.2', port: 2200, systems: ['ip'], priority: 1 },
      flip2: { ip: '192.0.2.3', port: 2200 },
    },
    cluster: { config: { interface: 'eth0' }, system: { ip: { type: 'shard', data: ['192.0.2.202', '192.0.2.201'] } } },
    ...extra,
  }), 'flip.json').config;

  /** What a node that stays alone plumbs over `ms`, stepped every 50 ms. */
  function aloneFor(configuration: ReturnType<typeof readme>, ms: number): string[] {
    const node = createNode({ self: 'flip', config: configuration, now: 0 });
    const taken: string[] = [];
    for (let now = 0; now <= ms; now += 50) {
      for (const action of of(step(node, { type: 'tick' }, now).actions, 'plumb')) taken.push(configuration.groups[action.group]!.point!);
    }
    return taken;
  }

  it('a lone flip server without quorum ("freeze", the flip default) takes its home points, and only those', () => {
    const configuration = readme();
    expect(configuration).toMatchObject({ quorum: 2, noQuorumPolicy: 'freeze' });
    expect(aloneFor(configuration, 10_000)).toEqual(['192.0.2.202']);
  });

  it('under no_quorum_policy "stop" vippy\'s quorum rule wins: a lone server takes nothing', () => {
    expect(aloneFor(readme({ no_quorum_policy: 'stop' }), 10_000)).toEqual([]);
  });
});

describe('ARP cache and notify targets', () => {
  const group: VipGroup = {
    index: 0, key: '192.0.2.10',
    addresses: [
      { interface: 'eth0', ip: '192.0.2.10', family: 4, prefixLength: 29 },
      { interface: 'eth0', ip: '2001:db8::10', family: 6, prefixLength: 64 },
    ],
  };

  it('keeps hosts inside each IPv4 VIP subnet, de-duplicated, with MACs when known', () => {
    const hosts = notifyHosts(group, [
      { kind: 'network', interface: 'eth0', family: 4, network: '192.0.2.0', prefixLength: 24 },
      { kind: 'arp-cache' },
    ], [
      { ip: '192.0.2.9', mac: 'aa:bb:cc:dd:ee:01' },
      { ip: '192.0.2.11', mac: '00:00:00:00:00:00' },
      { ip: '198.51.100.1', mac: 'aa:bb:cc:dd:ee:02' },
    ]);
    // /29 around .10 is .8-.15; the VIP itself is left out; IPv6 needs no hit-list.
    expect(hosts.map((h) => h.ip)).toEqual(['192.0.2.8', '192.0.2.9', '192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14', '192.0.2.15']);
    expect(hosts.find((h) => h.ip === '192.0.2.9')).toEqual({ vip: '192.0.2.10', interface: 'eth0', ip: '192.0.2.9', mac: 'aa:bb:cc:dd:ee:01' });
    expect(hosts.find((h) => h.ip === '192.0.2.11')?.mac).toBeUndefined();
  });

  it('takes at most the budget of addresses from notify networks per VIP, arp-cache hosts on top', () => {
    const wide: VipGroup = { index: 0, key: '10.1.2.3', addresses: [{ interface: 'eth0', ip: '10.1.2.3', family: 4, prefixLength: 8 }] };
    const hosts = notifyHosts(wide, [
      { kind: 'network', interface: 'eth0', family: 4, network: '10.0.0.0', prefixLength: 8 },
      { kind: 'arp-cache' },
    ], [{ ip: '10.200.0.1', mac: 'aa:bb:cc:dd:ee:01' }], 4);
    expect(hosts.map((h) => h.ip)).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.200.0.1']);
  });

  it('shares a changed local table (hosts only), merges peer slices (hosts only), and forgets a silent peer', () => {
    const node = createNode({ self: 'a', config, now: 0 });
    step(node, { type: 'tick' }, 0);
    const notHosts = [{ ip: '224.0.0.1', mac: '01:00:5e:00:00:01' }, { ip: '255.255.255.255', mac: 'ff:ff:ff:ff:ff:ff' }, { ip: '0.0.0.0', mac: '02:00:00:00:00:01' }];
    const shared = step(node, { type: 'neighbours', entries: [{ ip: '192.0.2.20', mac: 'AA:BB:CC:DD:EE:20' }, ...notHosts] }, 1000);
    expect(of(shared.actions, 'send-arp-cache')[0]?.entries).toEqual([{ ip: '192.0.2.20', mac: 'aa:bb:cc:dd:ee:20' }]);
    expect(of(step(node, { type: 'neighbours', entries: [{ ip: '192.0.2.20', mac: 'aa:bb:cc:dd:ee:20' }] }, 1500).actions, 'send-arp-cache')).toHaveLength(0);
    step(node, announce('b'), 1600);
    step(node, { type: 'arp-slice', from: 'b', entries: [{ ip: '192.0.2.30', mac: 'aa:bb:cc:dd:ee:30' }, ...notHosts], complete: false }, 1600);
    expect(arpCache(node).map((e) => e.ip)).toEqual(['192.0.2.20', '192.0.2.30']);
    expect(notifyTargets(node, 0).map((h) => h.ip)).toEqual(['192.0.2.20', '192.0.2.30']);
    step(node, { type: 'tick' }, 1600 + config.timing.staleMs + 1);
    expect(arpCache(node).map((e) => e.ip)).toEqual(['192.0.2.20']);
  });

  it('names the group and config when asked about a group that does not exist', () => {
    const node: NodeState = createNode({ self: 'a', config, now: 0 });
    expect(() => notifyTargets(node, 7)).toThrow('notifyTargets: group 7 is not in config v1 (3 groups)');
  });
});
