// Placement: which node should hold each group, as a pure function of the agreed view.
// Every node runs this on the same input and must get the same answer, so: no clock, no
// randomness, and the order of `active` does not matter.
//
// Preference comes first (vippy and balanced groups): a group goes to its preferred node when
// that node is active and eligible, except that a current holder keeps it while preempt is off
// or the preferred node is still inside its preempt_delay (preferenceReady false). Other groups
// follow their strategy: the group's flip system type when it has one, else config.placement.

import type { ClusterConfig, VipGroup } from '../config/model.js';
import { CachedRanker } from './placement-cache.js';
import { assignReplicated, assignShard, type FlipView } from './placement-flip.js';
import { assignBalanced, assignVippy, referenceRanker, type HashedView, type PlacedGroups, type Ranker } from './placement-hashed.js';
import type { PlacementInput, PlacementResult } from './types.js';

export { vippyScore } from './placement-hashed.js';

/** Placement from scratch (every rendezvous score hashed anew). */
export function place(input: PlacementInput): PlacementResult {
  const active = activeSet(input);
  return assign(input, active, referenceRanker([...active]));
}

export interface Placer {
  /** Same answer as place(input); cheap when the active set changed by a node or two since the last call. */
  update(input: PlacementInput): PlacementResult;
}

/** An incremental placer: keeps each group's best-ranked active nodes between calls. */
export function createPlacer(config: ClusterConfig): Placer {
  let ranker = new CachedRanker(config);
  return {
    update(input) {
      // Another config (graduation, reload) means other nodes and keys: start a fresh cache.
      if (input.config !== ranker.config) ranker = new CachedRanker(input.config);
      const active = activeSet(input);
      ranker.sync(active);
      return assign(input, active, ranker);
    },
  };
}

function activeSet(input: PlacementInput): Set<string> {
  const known = new Set(input.config.nodes.map((node) => node.name));
  const active = new Set<string>();
  input.active.forEach((node, position) => {
    if (!known.has(node)) throw new Error(`placement: active[${position}] "${node}" is not one of config.nodes`);
    active.add(node);
  });
  return active;
}

const NOBODY: readonly string[] = Object.freeze([]);

/** How a config's groups are placed: fixed per config, so worked out once, not on every update. */
interface GroupPlan {
  /** Groups with a preferred node (vippy / balanced): the preference is checked on every update. */
  preferred: VipGroup[];
  /** Groups without one: straight to the strategy. */
  open: VipGroup[];
  /** flip shard / replicated groups by system, with the system's members in config.nodes order. */
  flip: { type: 'shard' | 'replicated'; points: VipGroup[]; members: string[] }[];
}

const plans = new WeakMap<ClusterConfig, GroupPlan>();

function planOf(config: ClusterConfig): GroupPlan {
  let plan = plans.get(config);
  if (plan !== undefined) return plan;
  plan = { preferred: [], open: [], flip: [] };
  const systemType = new Map(config.systems?.map((system) => [system.name, system.type]));
  const flipSystems = new Map<string | undefined, { type: 'shard' | 'replicated'; points: VipGroup[]; members: string[] }>();
  for (const group of config.groups) {
    const strategy = (group.system === undefined ? undefined : systemType.get(group.system)) ?? config.placement;
    if (strategy === 'shard' || strategy === 'replicated') {
      let system = flipSystems.get(group.system);
      if (system === undefined) {
        // A group outside any flip system is shared by every node.
        const members = config.nodes.filter((node) => group.system === undefined || node.systems?.includes(group.system)).map((node) => node.name);
        flipSystems.set(group.system, (system = { type: strategy, points: [], members }));
      }
      system.points.push(group);
    } else if (group.preferred !== undefined) plan.preferred.push(group);
    else plan.open.push(group);
  }
  plan.flip = [...flipSystems.values()];
  plans.set(config, plan);
  return plan;
}

function assign(input: PlacementInput, active: ReadonlySet<string>, ranker: Ranker): PlacementResult {
  const { config } = input;
  const plan = planOf(config);
  const excluded = config.groups.map((group) => input.ineligible(group.index));
  const excludedFrom = (group: number) => excluded[group];
  // Rankers yield only active nodes, so what they offer needs only the eligibility check.
  const isEligible = (group: VipGroup, node: string) => excludedFrom(group.index)?.has(node) !== true;
  const isCandidate = (group: VipGroup, node: string) => active.has(node) && isEligible(group, node);
  const result = new Array<readonly string[]>(config.groups.length).fill(NOBODY);
  // One shared, frozen [node] per node: 100,000 groups need not mean 100,000 new arrays.
  const alone = new Map<string, readonly string[]>();
  const placed: PlacedGroups = {
    set(group, node) {
      let holders = alone.get(node);
      if (holders === undefined) alone.set(node, (holders = Object.freeze([node])));
      result[group] = holders;
    },
    setAll(group, nodes) {
      result[group] = Object.freeze(nodes);
    },
  };

  let open = plan.open;
  if (plan.preferred.length > 0) {
    open = [];
    // Preferred groups whose preference does not apply now join the open ones, in config order.
    let next = 0;
    for (const group of plan.preferred) {
      const preferred = preferenceChoice(input, group, isCandidate);
      if (preferred !== undefined) {
        placed.set(group.index, preferred);
        continue;
      }
      while (next < plan.open.length && plan.open[next]!.index < group.index) open.push(plan.open[next++]!);
      open.push(group);
    }
    while (next < plan.open.length) open.push(plan.open[next++]!);
  }

  if (open.length > 0) {
    const activeList = [...active];
    const view: HashedView = {
      ranker,
      activeCount: active.size,
      isCandidate,
      isEligible,
      placeable: (group) => excludedFrom(group.index) === undefined ? activeList.length > 0 : activeList.some((node) => isCandidate(group, node)),
      holder: (group) => input.holders.get(group.index),
    };
    if (config.placement === 'balanced') assignBalanced(open, view, placed);
    else assignVippy(open, view, placed);
  }

  const flipView: FlipView = { isAlive: (node) => active.has(node), isEligible: isCandidate };
  for (const { type, points, members } of plan.flip) {
    if (type === 'shard') assignShard(points, members, flipView, placed);
    else assignReplicated(points, members, flipView, placed);
  }
  return result;
}

function preferenceChoice(input: PlacementInput, group: VipGroup, isCandidate: (group: VipGroup, node: string) => boolean): string | undefined {
  const preferred = group.preferred;
  if (preferred === undefined || !isCandidate(group, preferred)) return undefined;
  const holder = input.holders.get(group.index);
  const holderMayKeep = holder !== undefined && holder !== preferred && isCandidate(group, holder);
  if (holderMayKeep && (!input.config.preempt || !input.preferenceReady(preferred, group.index))) return holder;
  return preferred;
}
