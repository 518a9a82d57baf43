// Releasing groups: everything when the node may hold nothing (its mode says why), and a
// group placement gives elsewhere (while acting) or that an alive member holds too (while
// keeping what it holds). The "holding a group it should not" half of conflict repair.

import type { MembershipView } from './membership.js';
import { sortedHeld, type NodeState, type StepOutput } from './state.js';
import type { PlacementResult, TransitionCause } from './types.js';
import type { Assessment, NodeMode } from './self-assessment.js';
import type { AliveHolderOf } from './ownership.js';
import { keepsWhenAllFail } from './eligibility.js';

export function release(state: NodeState, group: number, reason: string, cause: TransitionCause, out: StepOutput): void {
  state.held.delete(group);
  state.conflicts.delete(group);
  out.actions.push({ type: 'unplumb', group, reason, cause });
  out.log('notice', 'release', `releasing group ${group}: ${reason}`, { group, reason });
}

export function releaseAll(state: NodeState, reason: 'shutdown' | 'paused', out: StepOutput): void {
  for (const group of sortedHeld(state)) release(state, group, reason, reason, out);
}

export function releaseMisplaced(
  state: NodeState,
  self: Assessment,
  view: MembershipView,
  owners: PlacementResult,
  aliveHolderOf: AliveHolderOf,
  out: StepOutput,
): void {
  const { quorum } = state.config;
  const holdNothingBecause: Partial<Record<NodeMode, [string, TransitionCause]>> = {
    'not-in-config': ['not in the config', 'config'],
    unheard: [`only ${view.heardBy} of ${quorum} needed nodes hear this node`, 'quorum'],
    inactive: [`inactive: ${self.failingReason}`, self.failingReason === 'administrative' ? 'drain' : 'check'],
    'no-quorum': [`no quorum (${view.seen} of ${quorum} seen)`, 'quorum'],
  };
  const releaseAllBecause = holdNothingBecause[self.mode];
  for (const group of sortedHeld(state)) {
    if (releaseAllBecause !== undefined) {
      release(state, group, ...releaseAllBecause, out);
      continue;
    }
    if (owners[group]?.includes(state.self) ?? false) continue;
    const other = aliveHolderOf(group);
    // Every candidate fails its checks: a degraded service beats a black hole (when_all_fail "keep").
    if (self.mode === 'acting' && (owners[group]?.length ?? 0) === 0 && other === undefined && keepsWhenAllFail(state, group)) continue;
    if (self.mode === 'acting') release(state, group, `placement gives it to ${owners[group]?.join(',') || 'nobody'}`, 'placement', out);
    else if (other !== undefined) release(state, group, `${other.name} holds it too`, 'conflict', out);
  }
}
