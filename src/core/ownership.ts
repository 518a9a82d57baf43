// Who holds each group (from announcements) and who should (placement over the tracked view),
// and the ownership map vippy reports.

import type { MembershipView, PeerRecord } from './membership.js';
import type { NodeState, StepOutput } from './state.js';
import type { Ownership, PlacementResult } from './types.js';

/** Who holds each group, from announcements of alive members and this node (lowest index wins). */
export function holderMap(state: NodeState, view: MembershipView): Map<number, string> {
  const holders = new Map<number, string>();
  const byName = new Map(view.members.map((peer) => [peer.name, peer]));
  for (const node of state.config.nodes) {
    const held = node.name === state.self ? state.held : byName.get(node.name)?.last!.held;
    for (const group of held ?? []) if (!holders.has(group)) holders.set(group, node.name);
  }
  return holders;
}

/** The alive member (first in config order) that announces each group held. */
export type AliveHolderOf = (group: number) => PeerRecord | undefined;

export function aliveHolders(view: MembershipView): AliveHolderOf {
  const holder = new Map<number, PeerRecord>();
  for (const peer of view.members) for (const group of peer.last!.held) if (!holder.has(group)) holder.set(group, peer);
  return (group) => holder.get(group);
}

/**
 * Placement over the view trackView() just recorded (state.viewKey). Most steps leave the view
 * and the holders unchanged: the last answer is reused, since recomputing would dominate a step's cost.
 */
export function placeGroups(
  state: NodeState,
  activeNodes: readonly string[],
  ineligible: ReadonlyMap<number, ReadonlySet<string>>,
  holders: ReadonlyMap<number, string>,
  preferenceReady: (name: string, group?: number) => boolean,
): PlacementResult {
  const key = state.viewKey + JSON.stringify([...holders]);
  if (state.placement?.key === key) return state.placement.result;
  const result = state.placer.update({
    config: state.config,
    active: activeNodes,
    ineligible: (group) => ineligible.get(group),
    holders,
    preferenceReady,
  });
  state.placement = { key, result };
  return result;
}

/** vippy's map: "_" → unowned groups, every active node → the groups placement gives it. */
export function ownershipMap(activeNodes: readonly string[], owners: PlacementResult): Ownership {
  const map: Ownership = { _: [] };
  for (const name of activeNodes) map[name] = [];
  owners.forEach((nodes, group) => {
    if (nodes.length === 0) map._!.push(group);
    for (const name of nodes) (map[name] ??= []).push(group);
  });
  return map;
}

/** The ownership map now; a 'state-change' action when this node's own share changed. */
export function reportOwnership(state: NodeState, activeNodes: readonly string[], owners: PlacementResult, out: StepOutput): Ownership {
  const { self } = state;
  const ownership = ownershipMap(activeNodes, owners);
  const ownList = (map: Ownership) => JSON.stringify(map[self] ?? []);
  if (ownList(ownership) !== ownList(state.last.ownership)) {
    out.actions.push({ type: 'state-change', ownership, previous: state.last.ownership });
    out.log('info', 'state-changed', `state changed: ${self} owns [${(ownership[self] ?? []).join(', ')}]`);
  }
  return ownership;
}
