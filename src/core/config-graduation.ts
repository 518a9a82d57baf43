// Config graduation (DESIGN.md "Protocol") and reloads: the highest version wins and is adopted
// from a peer's offer; the same version with another fingerprint is a conflict, logged loudly
// and resolved the same way on every node (the greater fingerprint wins). This node offers its
// config while a fresh peer runs an older or losing one. A config switch keeps the groups whose
// addresses survive and releases the others under their old index.

import type { ClusterConfig, VipGroup } from '../config/model.js';
import type { MembershipView } from './membership.js';
import { dropPeer } from './arp-cache.js';
import { nodeIndex, type NodeState, type StepOutput } from './state.js';
import { release } from './releasing.js';
import type { Wake } from './wake.js';

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

/** A peer's announced config: offer ours when it loses; log a conflict once per peer and config. */
export function notePeerConfig(state: NodeState, from: string, theirs: { version: number; fingerprint: string }, out: StepOutput): void {
  const comparison = compareConfigs(state.config, theirs);
  if (comparison === 'older' || comparison === 'conflict-ours-wins') state.configSendPending = true;
  if (comparison === 'conflict-ours-wins' || comparison === 'conflict-theirs-wins') logConflict(state, from, theirs.version, theirs.fingerprint, out);
}

function logConflict(state: NodeState, from: string, version: number, fingerprint: string, out: StepOutput): void {
  const key = `${from} ${version} ${fingerprint}`;
  if (state.conflictsLogged.has(key)) return;
  state.conflictsLogged.add(key);
  const winner = fingerprint > state.config.fingerprint ? from : state.self;
  out.log('crit', 'config-conflict',
    `${from} runs a different config with the same version v${version}; the greater fingerprint wins (${winner}'s)`,
    { peer: from, version, ours: state.config.fingerprint, theirs: fingerprint });
}

/** A peer offered its whole config: adopt it when it wins. */
export function receiveConfigOffer(state: NodeState, from: string, config: ClusterConfig, now: number, out: StepOutput): void {
  notePeerConfig(state, from, config, out);
  const comparison = compareConfigs(state.config, config);
  if (comparison !== 'newer' && comparison !== 'conflict-theirs-wins') return;
  const previous = state.config;
  switchConfig(state, config, now, out);
  out.actions.push({ type: 'adopt-config', config, from });
  out.log('notice', 'config-graduated', `config v${previous.version} -> v${config.version} (from ${from})`, { from, previousVersion: previous.version, version: config.version });
}

/** The local file was (re)loaded: used as it is, whatever its version. */
export function reloadConfig(state: NodeState, config: ClusterConfig, now: number, out: StepOutput): void {
  const previous = state.config;
  switchConfig(state, config, now, out);
  out.log('notice', 'config-reloaded', `config v${previous.version} -> v${config.version} (reloaded)`, { from: previous.version, to: config.version });
}

/** Replaces the config: groups that do not survive are released under their old index. */
function switchConfig(state: NodeState, next: ClusterConfig, now: number, out: StepOutput): void {
  const previous = state.config;
  const { kept, dropped } = remapHeld(previous, next, state.held);
  for (const group of dropped) release(state, group, 'group no longer in the config', 'config', out);
  state.config = next;
  state.held = kept;
  if (previous.version !== next.version || previous.fingerprint !== next.fingerprint) state.configChangedAt = now;
  // Indices may have moved: forget per-group memory keyed by the old ones.
  state.placement = null;
  state.conflicts.clear();
  state.handoffs.clear();
  state.repairNotifiedAt.clear();
  state.failedUntil.clear();
  state.preferredEligibleSince.clear();
  for (const name of state.peers.keys()) {
    if (nodeIndex(next, name) < 0) {
      state.peers.delete(name);
      dropPeer(state.arp, name);
    }
  }
  if (nodeIndex(next, state.self) < 0) out.log('crit', 'not-in-config', `${state.self} is not in this configuration (v${next.version}): holding nothing`);
}

/**
 * Sends this node's config, at most once per stale, while some fresh peer still runs an older
 * or losing one (the offer may have crossed announcements that were already on their way).
 */
export function shareConfig(state: NodeState, view: MembershipView, now: number, wake: Wake, out: StepOutput): void {
  const { config } = state;
  const needsOurConfig = view.fresh.some((peer) => ['older', 'conflict-ours-wins'].includes(compareConfigs(config, peer.last!)));
  if (state.configSendPending && !needsOurConfig) state.configSendPending = false;
  if (!state.configSendPending) return;
  const allowedAt = state.configSentAt + config.timing.staleMs;
  if (now >= allowedAt) {
    out.actions.push({ type: 'send-config' });
    state.configSentAt = now;
    state.configSendPending = false;
  } else {
    wake.add(allowedAt);
  }
}
