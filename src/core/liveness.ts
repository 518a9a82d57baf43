// Liveness (DESIGN.md "Protocol"): which peers are up, whether this node is mature and active,
// and what a node that was not stepped for longer than `stale` must do.
//
// - Mature = matureMs since the config last changed (start counts). Active = mature and no
//   health reason false. While booting the node keeps what it holds and takes nothing.
// - A member whose announcements are overdue (1.5 intervals) counts as active in placement:
//   it may have become active meanwhile, and this node must not take what it may be taking.
// - A node that is not stepped for longer than `stale` (process paused) cannot know whether
//   its groups were taken over meanwhile: it releases everything and listens again.

import type { ClusterConfig } from '../config/model.js';
import { computeMembership, isFresh, type MembershipView } from './membership.js';
import { dropPeer } from './arp-cache.js';
import { nodeIndex, type NodeState, type StepOutput } from './state.js';
import { releaseAll } from './releasing.js';
import type { Wake } from './wake.js';

/** Peers listed in `hears`: heard within this many intervals. */
export const HEARS_WINDOW_INTERVALS = 2;
/** A member silent for this many intervals may have changed: it counts as active in placement. */
export const UNCERTAIN_AFTER_INTERVALS = 1.5;

export function hearsWindowMs(config: ClusterConfig): number {
  return Math.min(config.timing.staleMs, HEARS_WINDOW_INTERVALS * config.timing.intervalMs);
}

/**
 * Peers heard within the last two intervals. Shorter than stale on purpose: a node whose
 * announcements stop getting through learns it from its peers' lists within about two
 * intervals, while it may still hear them, and lets go before anyone takes over.
 */
export function hearsIndices(state: NodeState, now: number): number[] {
  const window = hearsWindowMs(state.config);
  const indices: number[] = [];
  state.config.nodes.forEach((node, index) => {
    const peer = state.peers.get(node.name);
    if (peer !== undefined && peer.last !== null && !peer.last.leaving && now - peer.lastHeard <= window) indices.push(index);
  });
  return indices;
}

export function resumeAfterPause(state: NodeState, now: number, out: StepOutput): void {
  out.log('warning', 'paused', `not stepped for ${now - state.lastStepAt} ms (longer than stale): releasing everything and listening again`);
  releaseAll(state, 'paused', out);
  state.listenSince = now;
  state.resumingUntil = now + state.config.timing.staleMs;
  state.unheardSince = null;
}

/**
 * The membership view now; logs peers that came up or aged out, asks to share the neighbour
 * table with a peer that came up, and forgets the table of a peer that is no longer fresh.
 */
export function observePeers(state: NodeState, now: number, wake: Wake, out: StepOutput): MembershipView {
  const { config } = state;
  const hearsWindow = hearsWindowMs(config);
  const view = computeMembership(config, state.self, state.peers, now, hearsWindow);
  // Thresholds read later without a wake of their own: witnesses, and being heard at all.
  for (const peer of view.fresh) wake.changesAt(peer.freshSince + hearsWindow);
  wake.changesAt(state.listenSince + config.timing.staleMs);
  for (const peer of state.peers.values()) {
    const alive = view.alive.has(peer.name);
    if (peer.wasAlive && !alive && !peer.last?.leaving) out.log('notice', 'peer-stale', `${peer.name} aged out (silent for ${now - peer.lastHeard} ms)`, { peer: peer.name });
    if (!peer.wasAlive && alive) {
      out.log('info', 'peer-joined', `${peer.name} is up`, { peer: peer.name });
      if (state.arp.local.size > 0) state.arpSendPending = true;
    }
    peer.wasAlive = alive;
    if (!isFresh(peer, now, config.timing.staleMs)) dropPeer(state.arp, peer.name);
  }
  return view;
}

export interface SelfLiveness {
  inConfig: boolean;
  mature: boolean;
  /** Within stale after a pause: inactive, listening again. */
  resuming: boolean;
  /** The first health reason that is false, if any. */
  failingReason: string | undefined;
  active: boolean;
  inactiveReason: string | null;
}

export function assessLiveness(state: NodeState, now: number, wake: Wake): SelfLiveness {
  const { config, self } = state;
  const { matureMs } = config.timing;
  const inConfig = nodeIndex(config, self) >= 0;
  const mature = now - state.configChangedAt >= matureMs;
  const resuming = now < state.resumingUntil;
  if (resuming) wake.add(state.resumingUntil);
  if (!mature) wake.add(state.configChangedAt + matureMs);
  const failingReason = [...state.health].find(([, ok]) => !ok)?.[0];
  const active = inConfig && mature && !resuming && failingReason === undefined;
  const inactiveReason = active ? null : !inConfig ? 'not-in-config' : !mature ? 'booting' : resuming ? 'resuming' : failingReason!;
  return { inConfig, mature, resuming, failingReason, active, inactiveReason };
}

/** The nodes placement counts as active, in config order: this node when active, members active or overdue. */
export function countedActiveNodes(state: NodeState, view: MembershipView, selfActive: boolean, now: number): string[] {
  const { config, self } = state;
  const uncertainAfter = config.timing.intervalMs * UNCERTAIN_AFTER_INTERVALS;
  return config.nodes
    .map((node) => node.name)
    .filter((name) => (name === self ? selfActive : view.members.some((peer) => peer.name === name && (peer.last!.active || now - peer.lastHeard > uncertainAfter))));
}
