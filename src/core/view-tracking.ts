// View tracking: since when the placement-relevant view (active nodes, ineligibility,
// preference readiness) has held, as a whole and per node, and since when each node has been
// active. Takes wait for a settled view (taking.ts); preempt_delay waits on activeSince.

import type { NodeState } from './state.js';
import type { Wake } from './wake.js';

/**
 * Updates since when each counted-active node has been continuously active, and returns
 * whether a node's preempt_delay has passed (a returning preferred node waits that long).
 */
export function trackActiveSince(state: NodeState, activeNodes: readonly string[], now: number, wake: Wake): (name: string) => boolean {
  const { preemptDelayMs } = state.config.timing;
  for (const name of [...state.activeSince.keys()]) if (!activeNodes.includes(name)) state.activeSince.delete(name);
  for (const name of activeNodes) if (!state.activeSince.has(name)) state.activeSince.set(name, now);
  for (const since of state.activeSince.values()) wake.add(since + preemptDelayMs);
  return (name) => {
    const since = state.activeSince.get(name);
    return since !== undefined && now - since >= preemptDelayMs;
  };
}

/**
 * Per group with a preferred node, since when that node has been eligible for it: a group comes
 * back to its preferred node only when both its activity and its eligibility for the group are
 * preempt_delay old, so a flapping check (or carrier) does not ping-pong the group. Returns the
 * readiness placement asks for, and the groups not ready yet (part of the view).
 */
export function trackPreferredEligibility(
  state: NodeState,
  ineligible: ReadonlyMap<number, ReadonlySet<string>>,
  activeReady: (name: string) => boolean,
  now: number,
  wake: Wake,
): { ready: (name: string, group?: number) => boolean; notReadyGroups: number[] } {
  const { preemptDelayMs } = state.config.timing;
  const notReadyGroups: number[] = [];
  for (const group of state.config.groups) {
    if (group.preferred === undefined || ineligible.get(group.index)?.has(group.preferred)) {
      state.preferredEligibleSince.delete(group.index);
      continue;
    }
    const since = state.preferredEligibleSince.get(group.index) ?? now;
    state.preferredEligibleSince.set(group.index, since);
    if (now - since < preemptDelayMs) {
      notReadyGroups.push(group.index);
      wake.add(since + preemptDelayMs);
    }
  }
  const ready = (name: string, group?: number) => activeReady(name) && (group === undefined || !notReadyGroups.includes(group));
  return { ready, notReadyGroups };
}

/** Records the view placement is about to decide from; restarts viewSince (and per-node times) on a change. */
export function trackView(
  state: NodeState,
  now: number,
  activeNodes: readonly string[],
  ineligible: ReadonlyMap<number, ReadonlySet<string>>,
  preferenceReady: (name: string) => boolean,
  notReadyGroups: readonly number[] = [],
): void {
  const notReady = activeNodes.filter((name) => !preferenceReady(name));
  const viewKey = JSON.stringify([activeNodes, [...ineligible].map(([g, set]) => [g, [...set]]), notReady, notReadyGroups]);
  if (viewKey !== state.viewKey) {
    state.viewKey = viewKey;
    state.viewSince = now;
  }
  const ineligibleByNode = new Map<string, number[]>();
  for (const [group, names] of ineligible) for (const name of names) (ineligibleByNode.get(name) ?? ineligibleByNode.set(name, []).get(name)!).push(group);
  for (const node of state.config.nodes) {
    const part = `${activeNodes.includes(node.name)} ${notReady.includes(node.name)} ${ineligibleByNode.get(node.name) ?? ''}`;
    if (state.nodeViews.get(node.name) !== part) {
      state.nodeViews.set(node.name, part);
      state.nodeViewChangedAt.set(node.name, now);
    }
  }
}

/** When the view, leaving out the given nodes' parts, last changed. */
export function othersSettledAt(state: NodeState, except: readonly string[]): number {
  let latest = -Infinity;
  for (const [name, at] of state.nodeViewChangedAt) if (!except.includes(name) && at > latest) latest = at;
  return latest;
}
