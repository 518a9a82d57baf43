// Eligibility (DESIGN.md "Protocol"): whether a node may hold a group. This node's health
// reasons make it active or not as a whole (see liveness.ts); per group it is ineligible while
// an interface of the group has no carrier, and for `stale` after plumbing the group failed.
// Peers say which groups they cannot hold in their announcements.

import type { CoreEvent } from './types.js';
import type { MembershipView } from './membership.js';
import type { NodeState, StepOutput } from './state.js';
import type { Wake } from './wake.js';

export function noteHealth(state: NodeState, reason: string, ok: boolean, out: StepOutput): void {
  const before = state.health.get(reason);
  state.health.set(reason, ok);
  if (before !== ok) out.log('info', 'health', `health reason "${reason}" is now ${ok ? 'ok' : 'failing'}`, { reason, ok });
}

export function noteCarrier(state: NodeState, iface: string, up: boolean, out: StepOutput): void {
  const wasDown = state.carrierDown.has(iface);
  if (up) state.carrierDown.delete(iface);
  else state.carrierDown.add(iface);
  if (wasDown === up) out.log('notice', 'carrier', `carrier ${up ? 'up' : 'down'} on ${iface}`, { interface: iface, up });
}

export function noteApplyResult(state: NodeState, event: Extract<CoreEvent, { type: 'apply-result' }>, now: number, out: StepOutput): void {
  if (event.ok) return;
  if (event.held) {
    // Could not bring it up: let another node have it for a while.
    state.held.delete(event.group);
    state.failedUntil.set(event.group, now + state.config.timing.staleMs);
    out.log('err', 'plumb-failed', `could not plumb group ${event.group}: ${event.error ?? 'unknown error'}; ineligible for ${state.config.timing.staleMs} ms`, { group: event.group });
  } else {
    out.log('crit', 'unplumb-failed', `could not unplumb group ${event.group}: ${event.error ?? 'unknown error'}`, { group: event.group });
  }
}

/** Forgets failures older than stale; wakes when the others end. */
export function expireFailures(state: NodeState, now: number, wake: Wake): void {
  for (const [group, until] of state.failedUntil) {
    if (until <= now) state.failedUntil.delete(group);
    else wake.add(until);
  }
}

/** The groups this node cannot hold now, ascending (announced as `ineligible`). */
export function selfIneligible(state: NodeState): number[] {
  return state.config.groups
    .filter((group) => state.failedUntil.has(group.index) || group.addresses.some((a) => state.carrierDown.has(a.interface)))
    .map((group) => group.index);
}

/** Per group, the nodes that cannot hold it: this node's own list, then each member's. */
export function ineligibleNodes(state: NodeState, view: MembershipView, ownIneligible: readonly number[]): Map<number, Set<string>> {
  const ineligible = new Map<number, Set<string>>();
  const mark = (group: number, name: string) => {
    let set = ineligible.get(group);
    if (set === undefined) ineligible.set(group, (set = new Set()));
    set.add(name);
  };
  for (const group of ownIneligible) mark(group, state.self);
  for (const peer of view.members) for (const group of peer.last!.ineligible) mark(group, peer.name);
  return ineligible;
}
