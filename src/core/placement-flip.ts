// flip's data topologies (reference/flip.md §1.7), exactly: static, stateless division of a
// system's data points among its members from (member order, alive set). Member order is
// config.nodes order, which src/config already sorts as flip's sorted_servers (priority, then id).

import type { VipGroup } from '../config/model.js';
import type { PlacedGroups } from './placement-hashed.js';

export interface FlipView {
  isAlive(node: string): boolean;
  isEligible(group: VipGroup, node: string): boolean;
}

/**
 * shard: data point i (1-based, plain string order as flip's sort) has home member
 * ((i−1) mod count)+1 and stays there while it is alive. Orphans, numbered from 0 in data order,
 * go to the survivor of rank ((o−1) mod alive)+1 (Lua's floored mod: the first orphan goes to the
 * LAST survivor). A holder that is ineligible for a point (no carrier there: not a flip notion)
 * passes it to the next eligible survivor after it, wrapping.
 */
export function assignShard(points: readonly VipGroup[], members: readonly string[], view: FlipView, result: PlacedGroups): void {
  const survivors = members.filter((node) => view.isAlive(node));
  if (survivors.length === 0) return;
  let orphans = 0;
  sortedByPoint(points).forEach((group, i) => {
    const home = members[i % members.length]!;
    const rank = view.isAlive(home)
      ? survivors.indexOf(home)
      : (((orphans++ - 1) % survivors.length) + survivors.length) % survivors.length;
    for (let step = 0; step < survivors.length; step++) {
      const node = survivors[(rank + step) % survivors.length]!;
      if (view.isEligible(group, node)) {
        result.set(group.index, node);
        return;
      }
    }
  });
}

/** replicated: every alive (and eligible) member holds every point, in member order. */
export function assignReplicated(points: readonly VipGroup[], members: readonly string[], view: FlipView, result: PlacedGroups): void {
  for (const group of points) {
    result.setAll(group.index, members.filter((node) => view.isAlive(node) && view.isEligible(group, node)));
  }
}

// flip sorts data as plain strings ("10.0.0.10" < "10.0.0.9"); config order breaks exact ties.
function sortedByPoint(points: readonly VipGroup[]): VipGroup[] {
  const point = (group: VipGroup) => group.point ?? group.key;
  return [...points].sort((a, b) => (point(a) < point(b) ? -1 : point(a) > point(b) ? 1 : a.index - b.index));
}
