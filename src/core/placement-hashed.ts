// The rendezvous strategies, "vippy" and "balanced", over a Ranker that orders a group's
// candidates by vippy's score. place() ranks with node:crypto from scratch; the incremental
// placer ranks from its cache (placement-cache.ts). Both feed the same assignment code below.

import { createHash } from 'node:crypto';
import type { VipGroup } from '../config/model.js';

export interface Ranker {
  /**
   * Walks the active nodes (only those) in the group's rank order, best first by vippy's score,
   * and returns the first that `accept` takes, or undefined. A callback, not a list: most callers
   * stop at the first node, and the incremental placer's cache knows only the first few.
   */
  first(group: VipGroup, accept: (group: VipGroup, node: string) => boolean): string | undefined;
}

/** vippy's rendezvous score (reference/vippy.md §4): the smallest string wins. */
export function vippyScore(node: string, key: string): string {
  return createHash('md5').update(node + '|' + key).digest('hex') + ':' + node;
}

/** Ranks from scratch: the original's rule, written as the original did (sorted score strings). */
export function referenceRanker(active: readonly string[]): Ranker {
  return {
    first(group, accept) {
      // Default sort compares UTF-16 code units, as vippy's own `.sort()` does.
      const scores = active.map((node) => vippyScore(node, group.key)).sort();
      return scores.map((score) => score.slice(33)).find((node) => accept(group, node));
    },
  };
}

/** Where the strategies write their choice for a group. */
export interface PlacedGroups {
  set(group: number, node: string): void;
  /** Several holders (flip's replicated). */
  setAll(group: number, nodes: readonly string[]): void;
}

export interface HashedView {
  ranker: Ranker;
  /** Distinct active nodes. */
  activeCount: number;
  /** Active and not ineligible for the group. */
  isCandidate(group: VipGroup, node: string): boolean;
  /** Not ineligible for the group (for nodes a ranker yields, which are active). */
  isEligible(group: VipGroup, node: string): boolean;
  /** True when at least one active node may hold the group. */
  placeable(group: VipGroup): boolean;
  holder(group: VipGroup): string | undefined;
}

/** vippy: each group to its best-ranked candidate (unowned when there is none). */
export function assignVippy(groups: readonly VipGroup[], view: HashedView, result: PlacedGroups): void {
  for (const group of groups) {
    const node = view.ranker.first(group, view.isEligible);
    if (node !== undefined) result.set(group.index, node);
  }
}

/**
 * balanced: consistent hashing with bounded loads. No node takes more than ceil(M/N) of these
 * M groups (N active nodes), unless ineligibility leaves a group no candidate below the bound.
 * Current holders keep their groups first, within the bound, so that a node leaving moves only
 * its own groups and a node joining takes only what the lowered bound sheds; the rest go, in
 * group order, to their best-ranked candidate below the bound.
 */
export function assignBalanced(groups: readonly VipGroup[], view: HashedView, result: PlacedGroups): void {
  const placeable = groups.filter((group) => view.placeable(group));
  if (placeable.length === 0) return;
  const bound = Math.ceil(placeable.length / view.activeCount);
  const load = new Map<string, number>();
  const take = (group: VipGroup, node: string) => {
    result.set(group.index, node);
    load.set(node, (load.get(node) ?? 0) + 1);
  };

  const unplaced: VipGroup[] = [];
  for (const group of placeable) {
    const holder = view.holder(group);
    if (holder !== undefined && view.isCandidate(group, holder) && (load.get(holder) ?? 0) < bound) take(group, holder);
    else unplaced.push(group);
  }
  let leastLoaded: string | undefined;
  const belowBound = (group: VipGroup, node: string) => {
    if (!view.isEligible(group, node)) return false;
    const nodeLoad = load.get(node) ?? 0;
    if (leastLoaded === undefined || nodeLoad < (load.get(leastLoaded) ?? 0)) leastLoaded = node;
    return nodeLoad < bound;
  };
  for (const group of unplaced) {
    leastLoaded = undefined;
    // Every candidate full happens only through ineligibility: then overflow as evenly as possible.
    const node = view.ranker.first(group, belowBound) ?? leastLoaded;
    if (node !== undefined) take(group, node);
  }
}
