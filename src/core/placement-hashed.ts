// The rendezvous strategies, "vippy" and "balanced", over a Ranker that orders a group's
// candidates by vippy's score. place() ranks with node:crypto from scratch; the incremental
// placer ranks from its cache (placement-cache.ts). Both feed the same assignment code below.

import { createHash } from 'node:crypto';
import type { VipGroup } from '../config/model.js';

export interface Ranker {
  /** The group's candidates, best first by vippy's score (lazily: callers often stop at one). */
  ranked(group: VipGroup, isCandidate: (node: string) => boolean): Iterable<string>;
}

/** vippy's rendezvous score (reference/vippy.md §4): the smallest string wins. */
export function vippyScore(node: string, key: string): string {
  return createHash('md5').update(node + '|' + key).digest('hex') + ':' + node;
}

/** Ranks from scratch: the original's rule, written as the original did (sorted score strings). */
export function referenceRanker(active: readonly string[]): Ranker {
  return {
    ranked(group, isCandidate) {
      const scores = active.filter(isCandidate).map((node) => vippyScore(node, group.key));
      // Default sort compares UTF-16 code units, as vippy's own `.sort()` does.
      return scores.sort().map((score) => score.slice(33));
    },
  };
}

export interface HashedView {
  ranker: Ranker;
  /** Distinct active nodes. */
  activeCount: number;
  isCandidate(group: VipGroup, node: string): boolean;
  /** True when at least one active node may hold the group. */
  placeable(group: VipGroup): boolean;
  holder(group: VipGroup): string | undefined;
}

/** vippy: each group to its best-ranked candidate (unowned when there is none). */
export function assignVippy(groups: readonly VipGroup[], view: HashedView, result: string[][]): void {
  for (const group of groups) {
    for (const node of view.ranker.ranked(group, (n) => view.isCandidate(group, n))) {
      result[group.index] = [node];
      break;
    }
  }
}

/**
 * balanced: consistent hashing with bounded loads. No node takes more than ceil(M/N) of these
 * M groups (N active nodes), unless ineligibility leaves a group no candidate below the bound.
 * Current holders keep their groups first, within the bound, so that a node leaving moves only
 * its own groups and a node joining takes only what the lowered bound sheds; the rest go, in
 * group order, to their best-ranked candidate below the bound.
 */
export function assignBalanced(groups: readonly VipGroup[], view: HashedView, result: string[][]): void {
  const placeable = groups.filter((group) => view.placeable(group));
  if (placeable.length === 0) return;
  const bound = Math.ceil(placeable.length / view.activeCount);
  const load = new Map<string, number>();
  const take = (group: VipGroup, node: string) => {
    result[group.index] = [node];
    load.set(node, (load.get(node) ?? 0) + 1);
  };

  const unplaced: VipGroup[] = [];
  for (const group of placeable) {
    const holder = view.holder(group);
    if (holder !== undefined && view.isCandidate(group, holder) && (load.get(holder) ?? 0) < bound) take(group, holder);
    else unplaced.push(group);
  }
  for (const group of unplaced) {
    let leastLoaded: string | undefined;
    let placed = false;
    for (const node of view.ranker.ranked(group, (n) => view.isCandidate(group, n))) {
      const nodeLoad = load.get(node) ?? 0;
      if (nodeLoad < bound) {
        take(group, node);
        placed = true;
        break;
      }
      if (leastLoaded === undefined || nodeLoad < (load.get(leastLoaded) ?? 0)) leastLoaded = node;
    }
    // Every candidate is full: only ineligibility elsewhere gets here; overflow as evenly as possible.
    if (!placed && leastLoaded !== undefined) take(group, leastLoaded);
  }
}
