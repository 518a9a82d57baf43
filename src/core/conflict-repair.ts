// Conflict repair (DESIGN.md "Protocol"): announcements list the groups a node actually holds.
// A node holding a group it should not releases it at once (releasing.ts); the rightful owner
// re-notifies once the other holder has let go, at most once per stale per group.

import type { NodeState, StepOutput } from './state.js';
import type { AliveHolderOf } from './ownership.js';
import type { Wake } from './wake.js';

export function repairConflicts(state: NodeState, aliveHolderOf: AliveHolderOf, now: number, wake: Wake, out: StepOutput): void {
  const { staleMs } = state.config.timing;
  for (const group of state.held) {
    if (aliveHolderOf(group) !== undefined) {
      state.conflicts.add(group);
      continue;
    }
    if (!state.conflicts.has(group)) continue;
    const allowedAt = (state.repairNotifiedAt.get(group) ?? -Infinity) + staleMs;
    if (now < allowedAt) {
      wake.add(allowedAt);
      continue;
    }
    state.conflicts.delete(group);
    state.repairNotifiedAt.set(group, now);
    out.actions.push({ type: 'notify', group, reason: 'conflict-repair' });
  }
}
