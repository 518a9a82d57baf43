// Eligibility (DESIGN.md "Protocol"): whether a node may hold a group. This node's health
// reasons make it active or not as a whole (see liveness.ts); per group it is ineligible while
// an interface of the group has no carrier, while a health check covering the group fails, and
// for `stale` after plumbing the group failed. Peers say which groups they cannot hold in their
// announcements; a change goes out at once (announcements.ts), so a failing check hands its
// groups off as a carrier loss does.
//
// A check covers every group when it is a node check, else the groups that name it. Its
// `when_all_fail` policy "keep" lets the holder keep a group that placement gives to nobody
// (every candidate is ineligible) when only such checks make it ineligible (see releasing.ts).

import type { ClusterConfig } from '../config/model.js';

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

/** A check's verdict: the agent reports every change, and each check's state when it is set up. */
export function noteCheck(state: NodeState, name: string, ok: boolean, reason: string): void {
  // The agent logs verdict changes (one line each); core only keeps them.
  if (ok) state.checksFailing.delete(name);
  else state.checksFailing.set(name, reason);
}

/** Whether `check` covers `group` (node checks cover every group). */
function covers(config: ClusterConfig, check: NonNullable<ClusterConfig['checks']>[number], group: number): boolean {
  return check.node || (config.groups[group]?.checks?.includes(check.name) ?? false);
}

/** The configured checks that fail now. A check no longer configured counts no more. */
function failingChecks(state: NodeState): NonNullable<ClusterConfig['checks']> {
  if (state.checksFailing.size === 0) return [];
  return (state.config.checks ?? []).filter((check) => state.checksFailing.has(check.name));
}

/** Why this node may not hold each group it cannot hold (status, vippyctl status). */
export function ineligibilityReasons(state: NodeState): Array<{ group: number; reasons: string[] }> {
  const failing = failingChecks(state);
  const result: Array<{ group: number; reasons: string[] }> = [];
  for (const group of state.config.groups) {
    const reasons: string[] = [];
    for (const check of failing) if (covers(state.config, check, group.index)) reasons.push(`check ${check.name} failing: ${state.checksFailing.get(check.name)}`);
    for (const iface of new Set(group.addresses.map((a) => a.interface))) if (state.carrierDown.has(iface)) reasons.push(`no carrier on ${iface}`);
    if (state.failedUntil.has(group.index)) reasons.push('plumbing it failed here (retried after stale)');
    if (reasons.length > 0) result.push({ group: group.index, reasons });
  }
  return result;
}

/**
 * Whether only checks whose policy is "keep" make this node ineligible for `group`: then it keeps
 * the group while placement gives it to nobody (every candidate fails).
 */
export function keepsWhenAllFail(state: NodeState, group: number): boolean {
  if (state.failedUntil.has(group) || state.config.groups[group]?.addresses.some((a) => state.carrierDown.has(a.interface))) return false;
  const covering = failingChecks(state).filter((check) => covers(state.config, check, group));
  return covering.length > 0 && covering.every((check) => check.whenAllFail === 'keep');
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
  const failing = failingChecks(state);
  return state.config.groups
    .filter((group) => state.failedUntil.has(group.index)
      || group.addresses.some((a) => state.carrierDown.has(a.interface))
      || failing.some((check) => covers(state.config, check, group.index)))
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
