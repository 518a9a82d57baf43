// Placement: which node should hold each group, as a pure function of the agreed view.
// Every node runs this on the same input and must get the same answer, so: no clock, no
// randomness, no dependence on the order of `active` beyond what config order fixes.

import { createHash } from 'node:crypto';
import type { PlacementInput, PlacementResult } from './types.js';

/** vippy's rendezvous score: the smallest string wins (reference/vippy.md §4). */
export function vippyScore(node: string, key: string): string {
  return createHash('md5').update(node + '|' + key).digest('hex') + ':' + node;
}

export function place(input: PlacementInput): PlacementResult {
  const { config, active, ineligible } = input;
  return config.groups.map((group) => {
    const excluded = ineligible(group.index);
    const candidates = active.filter((node) => !excluded?.has(node));
    const preferred = group.preferred;
    if (preferred !== undefined && candidates.includes(preferred)) {
      // Failback waits while preempt is off or the preferred node is inside its preempt_delay,
      // as long as the current holder can keep the group.
      const holder = input.holders.get(group.index);
      const holderCanKeep = holder !== undefined && holder !== preferred && candidates.includes(holder);
      if (holderCanKeep && (!config.preempt || !input.preferenceReady(preferred))) return [holder];
      return [preferred];
    }
    let best: string | undefined;
    for (const node of candidates) {
      const score = vippyScore(node, group.key);
      if (best === undefined || score < best) best = score;
    }
    return best === undefined ? [] : [best.slice(33)];
  });
}
