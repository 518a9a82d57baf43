// Config graduation and reloads: which of two configs wins, and what happens to the groups this
// node holds when the group list changes under it.

import type { ClusterConfig, VipGroup } from '../config/model.js';

export type ConfigComparison =
  | 'same'
  /** The other config has a higher version: adopt it. */
  | 'newer'
  /** The other config has a lower version: offer ours. */
  | 'older'
  /** Same version, different content, and the other's fingerprint is greater: adopt it. */
  | 'conflict-theirs-wins'
  /** Same version, different content, ours is greater: offer ours. */
  | 'conflict-ours-wins';

export function compareConfigs(ours: { version: number; fingerprint: string }, theirs: { version: number; fingerprint: string }): ConfigComparison {
  if (theirs.version > ours.version) return 'newer';
  if (theirs.version < ours.version) return 'older';
  if (theirs.fingerprint === ours.fingerprint) return 'same';
  // Deterministic on every node: the same two fingerprints always give the same winner.
  return theirs.fingerprint > ours.fingerprint ? 'conflict-theirs-wins' : 'conflict-ours-wins';
}

/** A group's identity across configs: its addresses on their interfaces (indices may shift). */
function groupIdentity(group: VipGroup): string {
  return group.addresses.map((a) => `${a.interface} ${a.ip}/${a.prefixLength}`).sort().join(',');
}

/**
 * Maps held group indices of `previous` onto `next`. A group survives when `next` has a group
 * with exactly the same addresses; the others must be released (under their old index).
 */
export function remapHeld(previous: ClusterConfig, next: ClusterConfig, held: ReadonlySet<number>): { kept: Set<number>; dropped: number[] } {
  const nextByIdentity = new Map(next.groups.map((group) => [groupIdentity(group), group.index]));
  const kept = new Set<number>();
  const dropped: number[] = [];
  for (const index of held) {
    const group = previous.groups[index];
    const mapped = group === undefined ? undefined : nextByIdentity.get(groupIdentity(group));
    if (mapped === undefined) dropped.push(index);
    else kept.add(mapped);
  }
  return { kept, dropped: dropped.sort((a, b) => a - b) };
}
